/*
 * fuzz_json.c - libFuzzer target for tb_decode_json and tb_json_check.
 *
 * Why this exists: the JSON decoder faces the network; this target feeds
 * it arbitrary bytes under ASan/UBSan and aborts when its verdict or its
 * spans disagree with the jansson-based reference, or when tb_json_check
 * disagrees with jansson on whether the bytes are one JSON value.
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
        dec = tb_decoder_new(&lim);
    }
    const char *why = ref_check_json(dec, &lim, data, size);
    if (why)
        fuzz_fail("tb_decode_json vs reference", why);
    tb_update_t u;
    if (tb_decode_json(dec, data, size, &u, NULL) == TB_REASON_OK)
        fuzz_check_encoded(&u);

    /* tb_json_check: same verdict as jansson (any value at the top) */
    tb_reason_t ours = tb_json_check((const char *)data, size, &lim, NULL);
    ref_update_t r;
    tb_reason_t ref = ref_decode_json(data, size, &lim, &r);
    ref_update_clear(&r);
    bool ref_well_formed = ref == TB_REASON_OK
        || (ref >= TB_REASON_NOT_AN_OBJECT && ref <= TB_REASON_BAD_LIST_LENGTH);
    if (ref_well_formed ? ours != TB_REASON_OK : ours != ref)
        fuzz_fail("tb_json_check vs jansson", tb_reason_name(ours));
    return 0;
}
