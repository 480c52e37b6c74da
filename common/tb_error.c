/*
 * tb_error.c - one table of error texts for every thingsbus library, and
 * the helper that writes a rejection into a caller's error buffer.
 */
#include "tb_error.h"
#include <stdarg.h>
#include <stdio.h>

int
tb_errbuf_set(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *
tb_error_text(int code)
{
    switch (code) {
    case TB_OK:                  return "success";
    case TB_ERR_INVALID_ARG:     return "invalid argument";
    case TB_ERR_NOMEM:           return "out of memory";
    case TB_ERR_BAD_NS:          return "invalid namespace (parts must match [a-z][a-z0-9_-]{0,63}, joined by '.')";
    case TB_ERR_BAD_DATA:        return "data is not valid JSON";
    case TB_ERR_TOO_LARGE:       return "message too large";
    case TB_ERR_QUEUE_FULL:      return "send queue full; message dropped";
    case TB_ERR_BAD_URL:         return "malformed address or URL";
    case TB_ERR_NET:             return "network error";
    case TB_ERR_TIMEOUT:         return "timed out";
    case TB_ERR_NOT_SUPPORTED:   return "not supported";
    case TB_ERR_DNS_NO_RECORD:   return "no SRV record for the name";
    case TB_ERR_DNS_NXDOMAIN:    return "no such domain (NXDOMAIN)";
    case TB_ERR_DNS_TIMEOUT:     return "DNS server did not answer in time";
    case TB_ERR_DNS_UNREACHABLE: return "DNS server unreachable";
    case TB_ERR_DNS_FAILED:      return "DNS lookup failed";
    case TB_ERR_NO_DATA:         return "no data";
    case TB_ERR_CLOSED:          return "closed";
    case TB_ERR_BAD_MESSAGE:     return "malformed message";
    case TB_ERR_SYSTEM:          return "system call failed";
    default:                     return "unknown error";
    }
}
