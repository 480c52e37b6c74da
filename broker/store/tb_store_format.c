/*
 * tb_store_format.c - encode, check and scan state-file records.
 *
 * Why this exists: the layout is described once, in tb_store_format.h; this
 * file is its only implementation, shared by the loop thread (encoding into
 * group buffers), the loader and the tests.  The scanner never trusts a
 * length it has not checksummed, so any damage costs only the records it
 * touches.
 */
#include <string.h>
#include "tb_store_format.h"

size_t tb_store_put_size(const tb_store_record_t *rec)
{
    size_t doc = rec->doc_url ? rec->doc_url_len : 0;
    if (rec->ns_len > UINT16_MAX || rec->ts_len > UINT16_MAX ||
        doc > TB_STORE_MAX_PAYLOAD || rec->data_len > TB_STORE_MAX_PAYLOAD)
        return 0;
    size_t payload = TB_STORE_PUT_HEAD + rec->ns_len + rec->ts_len + doc + rec->data_len;
    if (payload > TB_STORE_MAX_PAYLOAD)
        return 0;
    return TB_STORE_FRAME_LEN + payload;
}

/* The length and the payload are not contiguous (the crc sits between
 * them), so the CRC is computed in two steps. */
static void seal(unsigned char *out, size_t payload_len)
{
    tb_le32(out, TB_STORE_REC_MAGIC);
    tb_le32(out + 4, (uint32_t)payload_len);
    uint32_t c = tb_crc32c(0, out + 4, 4);
    c = tb_crc32c(c, out + TB_STORE_FRAME_LEN, payload_len);
    tb_le32(out + 8, c);
}

void tb_store_encode_put(unsigned char *out, const tb_store_record_t *rec)
{
    size_t doc = rec->doc_url ? rec->doc_url_len : 0;
    unsigned char *p = out + TB_STORE_FRAME_LEN;
    p[0] = TB_STORE_REC_PUT;
    p[1] = rec->doc_url ? 1 : 0;
    tb_le16(p + 2, (uint16_t)rec->ns_len);
    tb_le16(p + 4, (uint16_t)rec->ts_len);
    tb_le32(p + 6, (uint32_t)doc);
    tb_le32(p + 10, (uint32_t)rec->data_len);
    tb_le64(p + 14, rec->seq);
    tb_le64(p + 22, rec->update_count);
    uint64_t bits;
    memcpy(&bits, &rec->recv_time, 8);
    tb_le64(p + 30, bits);
    p += TB_STORE_PUT_HEAD;
    if (rec->ns_len) memcpy(p, rec->ns, rec->ns_len);
    p += rec->ns_len;
    if (rec->ts_len) memcpy(p, rec->ts, rec->ts_len);
    p += rec->ts_len;
    if (doc) memcpy(p, rec->doc_url, doc);
    p += doc;
    if (rec->data_len) memcpy(p, rec->data, rec->data_len);
    p += rec->data_len;
    seal(out, (size_t)(p - out) - TB_STORE_FRAME_LEN);
}

size_t tb_store_encode_del(unsigned char *out, const char *ns, size_t ns_len, uint64_t seq)
{
    unsigned char *p = out + TB_STORE_FRAME_LEN;
    p[0] = TB_STORE_REC_DEL;
    p[1] = 0;
    tb_le16(p + 2, (uint16_t)ns_len);
    tb_le64(p + 4, seq);
    if (ns_len) memcpy(p + TB_STORE_DEL_HEAD, ns, ns_len);
    seal(out, TB_STORE_DEL_HEAD + ns_len);
    return TB_STORE_FRAME_LEN + TB_STORE_DEL_HEAD + ns_len;
}

size_t tb_store_encode_seq(unsigned char *out, uint64_t seq)
{
    unsigned char *p = out + TB_STORE_FRAME_LEN;
    memset(p, 0, 4);
    p[0] = TB_STORE_REC_SEQ;
    tb_le64(p + 4, seq);
    seal(out, TB_STORE_SEQ_LEN);
    return TB_STORE_FRAME_LEN + TB_STORE_SEQ_LEN;
}

void tb_store_encode_header(unsigned char *out, uint64_t base_seq, uint64_t created_unix)
{
    memset(out, 0, TB_STORE_HEADER_LEN);
    memcpy(out, TB_STORE_MAGIC, 8);
    tb_le32(out + 8, TB_STORE_VERSION);
    tb_le32(out + 12, 0);
    tb_le64(out + 16, base_seq);
    tb_le64(out + 24, created_unix);
    tb_le32(out + 32, tb_crc32c(0, out, 32));
}

size_t tb_store_frame_ok(const unsigned char *buf, size_t avail)
{
    if (avail < TB_STORE_FRAME_LEN || tb_rd32(buf) != TB_STORE_REC_MAGIC)
        return 0;
    uint32_t len = tb_rd32(buf + 4);
    if (len == 0 || len > TB_STORE_MAX_PAYLOAD || len > avail - TB_STORE_FRAME_LEN)
        return 0;
    uint32_t c = tb_crc32c(0, buf + 4, 4);
    c = tb_crc32c(c, buf + TB_STORE_FRAME_LEN, len);
    if (c != tb_rd32(buf + 8))
        return 0;
    return TB_STORE_FRAME_LEN + len;
}

int tb_store_decode(const unsigned char *p, size_t len, tb_store_record_t *rec)
{
    memset(rec, 0, sizeof *rec);
    if (len < 1)
        return 0;
    switch (p[0]) {
    case TB_STORE_REC_PUT: {
        if (len < TB_STORE_PUT_HEAD || p[1] > 1)
            return 0;
        size_t ns_len = tb_rd16(p + 2), ts_len = tb_rd16(p + 4);
        size_t doc = tb_rd32(p + 6), data = tb_rd32(p + 10);
        if (doc > len || data > len ||
            TB_STORE_PUT_HEAD + ns_len + ts_len + doc + data != len)
            return 0;
        if (!p[1] && doc)
            return 0;
        rec->seq = tb_rd64(p + 14);
        rec->update_count = tb_rd64(p + 22);
        uint64_t bits = tb_rd64(p + 30);
        memcpy(&rec->recv_time, &bits, 8);
        const char *s = (const char *)p + TB_STORE_PUT_HEAD;
        rec->ns = s;            rec->ns_len = ns_len;   s += ns_len;
        rec->ts = s;            rec->ts_len = ts_len;   s += ts_len;
        rec->doc_url = p[1] ? s : NULL;
        rec->doc_url_len = doc; s += doc;
        rec->data = s;          rec->data_len = data;
        return TB_STORE_REC_PUT;
    }
    case TB_STORE_REC_DEL: {
        if (len < TB_STORE_DEL_HEAD || p[1] != 0)
            return 0;
        size_t ns_len = tb_rd16(p + 2);
        if (TB_STORE_DEL_HEAD + ns_len != len)
            return 0;
        rec->seq = tb_rd64(p + 4);
        rec->ns = (const char *)p + TB_STORE_DEL_HEAD;
        rec->ns_len = ns_len;
        return TB_STORE_REC_DEL;
    }
    case TB_STORE_REC_SEQ:
        if (len != TB_STORE_SEQ_LEN || p[1] != 0 || tb_rd16(p + 2) != 0)
            return 0;
        rec->seq = tb_rd64(p + 4);
        return TB_STORE_REC_SEQ;
    default:
        return 0;
    }
}

/* Next offset >= from where an intact frame starts, or len. */
static size_t resync(const unsigned char *buf, size_t len, size_t from)
{
    static const unsigned char m[4] = { 0x54, 0x42, 0x72, 0x31 };
    size_t off = from;
    while (off + TB_STORE_FRAME_LEN <= len) {
        const unsigned char *hit = memmem(buf + off, len - off, m, 4);
        if (!hit)
            break;
        off = (size_t)(hit - buf);
        if (tb_store_frame_ok(hit, len - off))
            return off;
        off++;
    }
    return len;
}

int tb_store_scan(const unsigned char *buf, size_t len, tb_store_scan_fn fn, void *ctx,
                  bool *header_ok, bool *version_unknown, uint64_t *base_seq,
                  uint64_t *regions, uint64_t *bytes)
{
    *header_ok = false;
    *version_unknown = false;
    *base_seq = 0;
    *regions = 0;
    *bytes = 0;
    size_t off;
    if (len >= TB_STORE_HEADER_LEN && memcmp(buf, TB_STORE_MAGIC, 8) == 0 &&
        tb_crc32c(0, buf, 32) == tb_rd32(buf + 32)) {
        if (tb_rd32(buf + 8) != TB_STORE_VERSION) {
            /* A newer format: do not guess at its records. */
            *version_unknown = true;
            return 0;
        }
        *header_ok = true;
        *base_seq = tb_rd64(buf + 16);
        off = TB_STORE_HEADER_LEN;
    } else {
        /* Damaged header: still recover every record we can find. */
        off = 0;
        size_t next = resync(buf, len, 0);
        (*regions)++;
        *bytes += next;
        off = next;
    }
    while (off < len) {
        size_t flen = tb_store_frame_ok(buf + off, len - off);
        tb_store_record_t rec;
        int type = flen ? tb_store_decode(buf + off + TB_STORE_FRAME_LEN,
                                          flen - TB_STORE_FRAME_LEN, &rec) : 0;
        if (!type) {
            size_t next = resync(buf, len, off + 1);
            (*regions)++;
            *bytes += next - off;
            off = next;
            continue;
        }
        int rc = fn(ctx, type, &rec, off, flen);
        if (rc)
            return rc;
        off += flen;
    }
    return 0;
}
