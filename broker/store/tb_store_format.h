/*
 * tb_store_format.h - the bytes of a thingsbus state file (internal to the
 * store and its tests).
 *
 * Why this exists: the loader, the writer and the tests must agree on one
 * layout, and a damaged file must be readable record by record.  Every
 * integer is little-endian.
 *
 *   file   = header record*
 *   header = "TBSTATE\0" (8) | version u32 (=1) | flags u32 (=0)
 *            | base_seq u64 | created_unix u64 | crc32c u32 of the 32 bytes
 *            before it | reserved u32 (=0)                          = 40 bytes
 *   record = magic u32 (0x31724254, "TBr1") | len u32 | crc u32 | payload
 *            crc = CRC32C over the 4 len bytes followed by the payload.
 *   payload, by its first byte:
 *     PUT (1): type u8 | flags u8 (bit 0: doc_url present) | ns_len u16
 *              | ts_len u16 | doc_len u32 | data_len u32 | seq u64
 *              | update_count u64 | recv_time (IEEE-754 bits) u64
 *              | ns | ts | doc_url | data                   (38-byte head)
 *     DEL (2): type u8 | 0 u8 | ns_len u16 | seq u64 | ns
 *     SEQ (3): type u8 | 0 u8 | 0 u16 | seq u64
 *
 * The per-record magic lets the loader find the next record after damage;
 * the CRC (Castagnoli) covers the length so a damaged length cannot make the
 * loader swallow intact records.
 */
#ifndef TB_STORE_FORMAT_H
#define TB_STORE_FORMAT_H
#include <stddef.h>
#include <stdint.h>
#include "tb_store.h"

#define TB_STORE_MAGIC        "TBSTATE"   /* + NUL: 8 bytes */
#define TB_STORE_VERSION      1u
#define TB_STORE_HEADER_LEN   40u
#define TB_STORE_REC_MAGIC    0x31724254u
#define TB_STORE_FRAME_LEN    12u
#define TB_STORE_MAX_PAYLOAD  (64u * 1024u * 1024u)
#define TB_STORE_PUT_HEAD     38u
#define TB_STORE_DEL_HEAD     12u
#define TB_STORE_SEQ_LEN      12u

enum { TB_STORE_REC_PUT = 1, TB_STORE_REC_DEL = 2, TB_STORE_REC_SEQ = 3 };

/* CRC32C (Castagnoli), reflected, init/xorout 0xFFFFFFFF; crc32c("123456789")
 * = 0xE3069283.  Pass 0 to start; feed the result back to continue. */
uint32_t tb_crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable table version (the tests compare it with the fast path). */
uint32_t tb_crc32c_sw(uint32_t crc, const void *buf, size_t len);

static inline void tb_le16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static inline void tb_le32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static inline void tb_le64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static inline uint16_t tb_rd16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t tb_rd32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint64_t tb_rd64(const unsigned char *p) { return (uint64_t)tb_rd32(p) | (uint64_t)tb_rd32(p + 4) << 32; }

/* Bytes the framed PUT record of rec takes, or 0 if a field is too long. */
size_t tb_store_put_size(const tb_store_record_t *rec);
/* Write the framed PUT record at out (tb_store_put_size bytes). */
void tb_store_encode_put(unsigned char *out, const tb_store_record_t *rec);
/* Framed DEL / SEQ records; return bytes written (out must hold
 * TB_STORE_FRAME_LEN + TB_STORE_DEL_HEAD + ns_len / TB_STORE_FRAME_LEN +
 * TB_STORE_SEQ_LEN). */
size_t tb_store_encode_del(unsigned char *out, const char *ns, size_t ns_len, uint64_t seq);
size_t tb_store_encode_seq(unsigned char *out, uint64_t seq);
/* The 40-byte header. */
void tb_store_encode_header(unsigned char *out, uint64_t base_seq, uint64_t created_unix);

/* Check one frame at buf[0..avail): returns the frame's total length if a
 * complete, intact frame starts there, else 0. */
size_t tb_store_frame_ok(const unsigned char *buf, size_t avail);

/* Decode an intact payload.  Returns the type (TB_STORE_REC_*) and fills
 * rec (PUT: all fields; DEL: ns and seq; SEQ: seq), or 0 if the payload is
 * inconsistent (lengths that do not add up, unknown type). */
int tb_store_decode(const unsigned char *payload, size_t len, tb_store_record_t *rec);

/* Scan a whole file image.  For every intact record, in order, calls
 * fn(ctx, type, rec, frame_offset, frame_len); damaged regions are skipped
 * (counted in *regions / *bytes).  *header_ok tells whether the header was
 * intact and of a known version; *base_seq is its base sequence number (0
 * when damaged).  Returns 0, or the first nonzero value fn returned. */
typedef int (*tb_store_scan_fn)(void *ctx, int type, const tb_store_record_t *rec,
                                size_t off, size_t frame_len);
int tb_store_scan(const unsigned char *buf, size_t len, tb_store_scan_fn fn, void *ctx,
                  bool *header_ok, bool *version_unknown, uint64_t *base_seq,
                  uint64_t *regions, uint64_t *bytes);

#endif
