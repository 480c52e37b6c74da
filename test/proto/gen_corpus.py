#!/usr/bin/python3
"""Generate the codec corpus: test/proto/valid/ and test/proto/invalid/.

Why this exists: the corpus must come from an implementation independent
of ours.  msgpack vectors are packed here with python3-msgpack, and the
expected decoding of every valid input (valid/<name>.<ext>.expect) is computed
with Python's json and msgpack modules, never with our codec.  The files
are committed; rerun this script (with Debian's /usr/bin/python3, which has
python3-msgpack) after changing the cases:

    /usr/bin/python3 test/proto/gen_corpus.py

Invalid inputs are named <reason>--<what>.<ext>, <reason> being the
tb_reason_name() the decoders must return.  Files found by fuzzing are added
by hand under the same naming rule and kept when this script runs (it only
rewrites the files it generates).
"""
import json
import os
import struct

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
VALID = os.path.join(HERE, "valid")
INVALID = os.path.join(HERE, "invalid")

DOC = "https://github.com/mistakes-consortium/esp8266.bottlekids"


def upd(ns, data, **kw):
    d = {"type": "thing_update", "ns": ns, "data": data}
    d.update(kw)
    return d


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def expect_from_obj(obj):
    """Expected decoding of a thing_update given as a Python value."""
    if isinstance(obj, list):
        ns, ts, data, doc = obj
    else:
        ns, ts, data, doc = (obj["ns"], obj.get("ts"), obj["data"],
                             obj.get("documentation_url"))
    return {"ns": ns, "ts": None if ts is None else float(ts), "data": data,
            "documentation_url": doc}


def keys_to_str(v):
    """msgpack integer map keys become decimal strings."""
    if isinstance(v, dict):
        return {str(k): keys_to_str(x) for k, x in v.items()}
    if isinstance(v, list):
        return [keys_to_str(x) for x in v]
    return v


def valid_json(name, text):
    raw = text.encode("utf-8") if isinstance(text, str) else text
    write(os.path.join(VALID, name + ".json"), raw)
    obj = json.loads(raw.decode("utf-8"))
    write(os.path.join(VALID, name + ".json.expect"),
          json.dumps(expect_from_obj(obj), sort_keys=True).encode())


def valid_msgpack(name, raw):
    write(os.path.join(VALID, name + ".msgpack"), raw)
    obj = keys_to_str(msgpack.unpackb(raw, raw=False, strict_map_key=False))
    write(os.path.join(VALID, name + ".msgpack.expect"),
          json.dumps(expect_from_obj(obj), sort_keys=True).encode())


def invalid(reason, name, ext, raw):
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    write(os.path.join(INVALID, "%s--%s.%s" % (reason, name, ext)), raw)


def pack(obj, **kw):
    return msgpack.packb(obj, use_bin_type=True, **kw)


def nest(depth, inner=1):
    v = inner
    for _ in range(depth):
        v = [v]
    return v


def main():
    os.makedirs(VALID, exist_ok=True)
    os.makedirs(INVALID, exist_ok=True)

    # ------------------------------------------------------------ valid JSON
    valid_json("readme-update", json.dumps(upd(
        "spacemon.electronics",
        {"ratio_busy": 0.14315257352941177, "luminance": 114.361669921875},
        ts=1423351104.945, documentation_url="https://wiki.example.org/Spacemon")))
    valid_json("python-default-separators", json.dumps(upd(
        "bottlekid.prototype",
        {"dht22_error": "bad checksum, DHT22 data: 75:55:77:d5:d5\r\n",
         "metadata": {"loops": 454, "msgs_dropped": 0, "msgs_sent": 454}},
        ts=1423351105.715, documentation_url=DOC)))
    valid_json("list-form", json.dumps(
        ["bottlekid.prototype", None, {"dht22_error": "", "metadata": {
            "loops": 154, "msgs_sent": 153, "msgs_dropped": 1}}, DOC]))
    valid_json("list-form-ts", '["a.b", 1423351104.5, [1, 2, 3], null]')
    valid_json("integer-ts", '{"type":"thing_update","ns":"a","data":1,"ts":1423351104}')
    valid_json("null-ts-null-doc",
               '{"type":"thing_update","ns":"a","data":null,"ts":null,"documentation_url":null}')
    valid_json("no-ts", '{"ns":"a.b.c","data":{},"type":"thing_update"}')
    valid_json("exponent-ts", '{"type":"thing_update","ns":"a","data":[],"ts":1.4233511E9}')
    valid_json("root-ns", '{"type":"thing_update","ns":"","data":true}')
    valid_json("long-parts", json.dumps(upd("a" * 64 + "." + "b" + "-_0" * 21, 0)))
    valid_json("extra-keys", '{"type":"thing_update","ns":"x","data":1,"seq":5,'
                             '"extra":{"type":"nope","ns":"BAD"},"v":[null]}')
    valid_json("duplicate-keys-last-wins",
               '{"type":"x","ns":"A","data":1,"type":"thing_update","ns":"good","data":2}')
    valid_json("escaped-keys-and-ns",
               '{"\\u0074ype":"thing\\u005fupdate","n\\u0073":"a\\u002eb","d\\u0061ta":"\\u00e9"}')
    valid_json("unicode-data", json.dumps(upd("u", {"s": "caf\u00e9 \u20ac \U0001F600",
                                                    "k\u00e9y": "\u2028"}), ensure_ascii=False))
    valid_json("escapes-data", r'{"type":"thing_update","ns":"e","data":"\"\\\/\b\f\n\r\t\u0001\ud83d\ude00"}')
    valid_json("whitespace", ' \r\n\t{ "type" : "thing_update" ,\n "ns" : "w" ,\t"data" : [ 1 , { } , [ ] ] } \n')
    valid_json("numbers", '{"type":"thing_update","ns":"n","data":[0,-0,1.5,-1.5e-3,1E+2,'
                          '9223372036854775807,-9223372036854775808,1.7976931348623157e308,'
                          '4.9e-324,1e-400,0.0000000001e10,123456789012345678901234567890.0]}')
    valid_json("depth-64", '{"type":"thing_update","ns":"d","data":' + json.dumps(nest(63)) + '}')
    valid_json("data-types", '["t",0.5,{"a":[true,false,null,"",{},[]]},"doc"]')

    # ----------------------------------------------------------- invalid JSON
    inv = lambda reason, name, raw: invalid(reason, name, "json", raw)
    inv("bad_json", "empty", "")
    inv("bad_json", "truncated", '{"type":"thing_update","ns":"a","data":1')
    inv("bad_json", "trailing-comma", '{"type":"thing_update","ns":"a","data":1,}')
    inv("bad_json", "single-quotes", "{'type':'thing_update'}")
    inv("bad_json", "leading-zero", '["a",01,1,null]')
    inv("bad_json", "nan", '["a",NaN,1,null]')
    inv("bad_json", "infinity", '["a",1,-Infinity,null]')
    inv("bad_json", "lone-surrogate", '["a",1,"\\ud800",null]')
    inv("bad_json", "low-surrogate-first", '["a",1,"\\udc00\\ud800",null]')
    inv("bad_json", "bad-escape", '["a",1,"\\x41",null]')
    inv("bad_json", "control-char", '["a",1,"tab\there",null]')
    inv("bad_json", "comment", '{"type":"thing_update" /* c */}')
    inv("bad_json", "missing-colon", '{"type" "thing_update"}')
    inv("bad_json", "too-deep-but-broken", "[" * 70 + "]" * 69)
    inv("bad_utf8", "invalid-byte", b'["a",1,"\xff",null]')
    inv("bad_utf8", "overlong", b'["a",1,"\xc0\xaf",null]')
    inv("bad_utf8", "utf8-surrogate", b'["a",1,"\xed\xa0\x80",null]')
    inv("bad_utf8", "beyond-10ffff", b'["a",1,"\xf4\x90\x80\x80",null]')
    inv("bad_utf8", "truncated-sequence", b'["a",1,"\xe2\x82",null]')
    inv("bad_utf8", "outside-string", b'{"type":"thing_update",\x80"ns":"a"}')
    inv("bad_utf8", "latin1-ns", b'{"type":"thing_update","ns":"caf\xe9","data":1}')
    inv("nul_in_string", "escaped-nul", '["a",1,"x\\u0000y",null]')
    inv("nul_in_string", "nul-key", '{"type":"thing_update","ns":"a","data":{"\\u0000":1}}')
    inv("bad_number", "int-too-big", '["a",1,9223372036854775808,null]')
    inv("bad_number", "int-too-small", '["a",1,-9223372036854775809,null]')
    inv("bad_number", "real-overflow", '["a",1e400,1,null]')
    inv("trailing_bytes", "two-objects", '{"type":"thing_update","ns":"a","data":1}{}')
    inv("trailing_bytes", "garbage", '["a",1,2,null] x')
    inv("too_deep", "depth-65", '{"type":"thing_update","ns":"d","data":' + json.dumps(nest(64)) + '}')
    inv("too_deep", "depth-3000", "[" * 3000 + "]" * 3000)
    inv("not_an_object", "string", '"thing_update"')
    inv("not_an_object", "number", "42")
    inv("not_an_object", "null", "null")
    inv("missing_type", "no-type", '{"ns":"a","data":1}')
    inv("missing_type", "empty-object", "{}")
    inv("unknown_type", "snapshot", '{"type":"thing_snapshot","ts":1.0,"data":{}}')
    inv("unknown_type", "type-not-string", '{"type":1,"ns":"a","data":1}')
    inv("missing_ns", "no-ns", '{"type":"thing_update","data":1}')
    inv("bad_ns", "uppercase", '{"type":"thing_update","ns":"A","data":1}')
    inv("bad_ns", "uppercase-part", '{"type":"thing_update","ns":"a.B","data":1}')
    inv("bad_ns", "trailing-dot", '{"type":"thing_update","ns":"a.","data":1}')
    inv("bad_ns", "leading-dot", '{"type":"thing_update","ns":".a","data":1}')
    inv("bad_ns", "empty-part", '{"type":"thing_update","ns":"a..b","data":1}')
    inv("bad_ns", "digit-first", '{"type":"thing_update","ns":"1a","data":1}')
    inv("bad_ns", "part-65", json.dumps(upd("a" * 65, 1)))
    inv("bad_ns", "too-long", json.dumps(upd(".".join(["abcdefgh"] * 120), 1)))
    inv("bad_ns", "not-a-string", '{"type":"thing_update","ns":["a"],"data":1}')
    inv("bad_ns", "list-ns-number", '[5,null,1,null]')
    inv("missing_data", "no-data", '{"type":"thing_update","ns":"a","ts":1.5}')
    inv("bad_ts", "string-ts", '{"type":"thing_update","ns":"a","data":1,"ts":"1423351104.9"}')
    inv("bad_ts", "bool-ts", '["a",true,1,null]')
    inv("bad_doc_url", "number", '{"type":"thing_update","ns":"a","data":1,"documentation_url":5}')
    inv("bad_doc_url", "list-object", '["a",null,1,{"url":"x"}]')
    inv("bad_list_length", "three", '["a",null,1]')
    inv("bad_list_length", "five", '["a",null,1,null,null]')
    inv("bad_list_length", "empty", "[]")

    # --------------------------------------------------------- valid msgpack
    v1 = bytes.fromhex(
        "94b3626f74746c656b69642e70726f746f74797065c082ab64687432325f6572726f72a0"
        "a86d65746164617461 83a56c6f6f7073ce0000009aa96d7367735f73656e74ce00000099"
        "ac6d7367735f64726f70706564ce00000001d93968747470733a2f2f6769746875622e636f"
        "6d2f6d697374616b65732d636f6e736f727469756d2f657370383236362e626f74746c656b"
        "696473".replace(" ", ""))
    assert msgpack.unpackb(v1) == ["bottlekid.prototype", None, {
        "dht22_error": "", "metadata": {"loops": 154, "msgs_sent": 153, "msgs_dropped": 1}}, DOC]
    valid_msgpack("protocol-v1-vector", v1)
    valid_msgpack("map-form", pack(upd("shop.shopbot.spacemon", {"busy": 12.0, "light": 31.8},
                                       ts=1423351104.945,
                                       documentation_url="http://example.com/Shopbot")))
    valid_msgpack("list-form-ts", pack(["a.b", 1423351104.25, [1, -1, 2 ** 63 - 1, -2 ** 63], None]))
    valid_msgpack("integer-ts", pack(["a", 1423351104, None, None]))
    valid_msgpack("negative-ts", pack(["a", -5, None, None]))
    valid_msgpack("float32", pack(["f", 1.5, [0.1, 3.25, -0.0], None], use_single_float=True))
    valid_msgpack("int-keys", pack(upd("k", {1: "one", -2: "minus two", 2 ** 64 - 1: "max",
                                               "s": {300: [True, False, None]}}),
                                   strict_types=False))
    valid_msgpack("unicode", pack(upd("u", {"caf\u00e9": "\u20ac \U0001F600 \u2028 \x01 \" \\"})))
    valid_msgpack("str-types", b"\x94" + b"\xd9\x01a" + b"\xc0" + b"\xda\x00\x03abc" +
                  b"\xdb\x00\x00\x00\x01d")
    valid_msgpack("array-map-16-32", b"\x94\xa1a\xc0\x92\xdc\x00\x02\x01\x02\xdf\x00\x00\x00\x00"
                  b"\xc0")
    valid_msgpack("all-ints", pack(["i", None, [0, 127, 128, 255, 256, 65535, 65536, 2 ** 32,
                                                -1, -32, -33, -128, -129, -32768, -32769,
                                                -2 ** 31 - 1, -2 ** 63], None]))
    valid_msgpack("extra-keys", pack({"type": "thing_update", "ns": "x", "data": None,
                                      "seq": 4, 7: "int key"}))
    valid_msgpack("root-ns", pack(["", None, 1, None]))
    valid_msgpack("depth-32", pack(["d", None, nest(31), None]))
    valid_msgpack("empty-containers", pack(["e", None, [[], {}, ""], ""]))

    # ------------------------------------------------------- invalid msgpack
    mp = lambda reason, name, raw: invalid(reason, name, "msgpack", raw)
    mp("bad_msgpack", "empty", b"")
    mp("bad_msgpack", "truncated", v1[:-1])
    mp("bad_msgpack", "truncated-header", b"\xdd\x00")
    mp("bad_msgpack", "never-used-c1", b"\x94\xa1a\xc0\xc1\xc0")
    mp("bad_msgpack", "array32-4-billion", b"\xdd\xff\xff\xff\xff")
    mp("bad_msgpack", "map32-4-billion", b"\xdf\xff\xff\xff\xff")
    mp("bad_msgpack", "nested-4-billion", b"\x94\xa1a\xc0\xdd\xff\xff\xff\xff\x01\xc0")
    mp("bad_msgpack", "str32-4-billion", b"\x94\xdb\xff\xff\xff\xffabc")
    mp("bad_msgpack", "bin32-4-billion", b"\x94\xa1a\xc0\xc6\xff\xff\xff\xff\x00")
    mp("trailing_bytes", "two-objects", pack(["a", None, 1, None]) * 2)
    mp("trailing_bytes", "one-extra-byte", pack(["a", None, 1, None]) + b"\x00")
    mp("too_deep", "depth-65", pack(["d", None, nest(64), None]))
    mp("too_deep", "depth-1000", b"\x91" * 1000 + b"\x01")
    mp("bad_utf8", "invalid-byte", b"\x94\xa1a\xc0\xa1\xff\xc0")
    mp("bad_utf8", "overlong", b"\x94\xa1a\xc0\xa2\xc0\xaf\xc0")
    mp("bad_utf8", "utf8-surrogate", b"\x94\xa1a\xc0\xa3\xed\xa0\x80\xc0")
    mp("bad_utf8", "bad-key", b"\x94\xa1a\xc0\x81\xa1\xfe\x01\xc0")
    mp("bad_utf8", "bad-ns", b"\x94\xa2\xc3\x28\xc0\x01\xc0")
    mp("nul_in_string", "nul-byte", b"\x94\xa1a\xc0\xa3a\x00b\xc0")
    mp("unsupported_type", "bin", pack(["a", None, b"\x00\x01", None]))
    mp("unsupported_type", "ext", pack(["a", None, msgpack.ExtType(5, b"xy"), None]))
    mp("unsupported_type", "timestamp-ext", b"\x94\xa1a\xc0\xd6\xff\x00\x00\x00\x00\xc0")
    mp("bad_key", "nil-key", b"\x94\xa1a\xc0\x81\xc0\x01\xc0")
    mp("bad_key", "float-key", b"\x94\xa1a\xc0\x81\xcb" + struct.pack(">d", 1.5) + b"\x01\xc0")
    mp("bad_key", "array-key", b"\x94\xa1a\xc0\x81\x91\x01\x01\xc0")
    mp("bad_key", "bool-key-top", b"\x81\xc3\x01")
    mp("bad_number", "nan", pack(["a", None, float("nan"), None]))
    mp("bad_number", "inf-ts", pack(["a", float("inf"), 1, None]))
    mp("bad_number", "uint64-above-int64", pack(["a", None, 2 ** 63, None]))
    mp("not_an_object", "string", pack("thing_update"))
    mp("not_an_object", "nil", b"\xc0")
    mp("missing_type", "no-type", pack({"ns": "a", "data": 1}))
    mp("unknown_type", "other-type", pack({"type": "thing_snapshot", "ns": "a", "data": 1}))
    mp("unsupported_type", "bin-type-before-rules", b"\x83\xa4type\xc4\x01x\xa2ns\xa1a\xa4data\x01")
    mp("missing_ns", "no-ns", pack({"type": "thing_update", "data": 1}))
    mp("bad_ns", "uppercase", pack(["A", None, 1, None]))
    mp("bad_ns", "int-ns", pack([5, None, 1, None]))
    mp("bad_ns", "empty-part", pack(upd("a..b", 1)))
    mp("missing_data", "no-data", pack({"type": "thing_update", "ns": "a"}))
    mp("bad_ts", "string-ts", pack(["a", "now", 1, None]))
    mp("bad_ts", "array-ts", pack(upd("a", 1, ts=[1.5])))
    mp("bad_doc_url", "int-doc", pack(["a", None, 1, 5]))
    mp("bad_list_length", "three", pack(["a", None, 1]))
    mp("bad_list_length", "five", pack(["a", None, 1, None, None]))


if __name__ == "__main__":
    main()
