/*
 * fuzz_msgpack.c - libFuzzer target for tb_decode_msgpack.
 *
 * Why this exists: UDP datagrams reach the msgpack decoder from anyone on
 * the network.  This target feeds it arbitrary bytes under ASan/UBSan and
 * aborts when its verdict or transcoded output disagrees with the
 * msgpack-c based reference, or when the transcoded JSON is not valid.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tb_decoder_t *dec;
    static tb_limits_t lim;
    if (!dec) {
        tb_limits_default(&lim);
        lim.max_depth = REF_MSGPACK_MAX_DEPTH;
        dec = tb_decoder_new(&lim);
    }
    const char *why = ref_check_msgpack(dec, &lim, data, size);
    if (why)
        fuzz_fail("tb_decode_msgpack vs reference", why);
    tb_update_t u;
    if (tb_decode_msgpack(dec, data, size, &u, NULL) == TB_REASON_OK)
        fuzz_check_encoded(&u);
    return 0;
}
