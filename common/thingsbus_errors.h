/*
 * thingsbus_errors.h - error codes shared by libthingsbus-adaptor and
 * libthingsbus-client (installed; included by both public headers).
 *
 * Why this exists: both libraries report failures as negative integer codes
 * rather than printing or aborting.  One list keeps the codes identical
 * across the libraries; each library exports its own *_strerror() that
 * turns a code into plain words.  0 is success; every error is negative.
 */
#ifndef THINGSBUS_ERRORS_H
#define THINGSBUS_ERRORS_H

enum tb_error {
    TB_OK = 0,
    TB_ERR_INVALID_ARG   = -1,  /* a NULL or out-of-range argument */
    TB_ERR_NOMEM         = -2,  /* out of memory */
    TB_ERR_BAD_NS        = -3,  /* namespace breaks the namespace rule */
    TB_ERR_BAD_DATA      = -4,  /* data is not valid JSON (or too deep) */
    TB_ERR_TOO_LARGE     = -5,  /* message would exceed the size limit */
    TB_ERR_QUEUE_FULL    = -6,  /* send queue full: message dropped, counted */
    TB_ERR_BAD_URL       = -7,  /* malformed URL or host:port */
    TB_ERR_NET           = -8,  /* socket or ZeroMQ error */
    TB_ERR_TIMEOUT       = -9,  /* the operation timed out */
    TB_ERR_NOT_SUPPORTED = -10, /* feature not available in this build/mode */
    TB_ERR_DNS_NO_RECORD = -11, /* the name exists but has no SRV record */
    TB_ERR_DNS_NXDOMAIN  = -12, /* the name does not exist */
    TB_ERR_DNS_TIMEOUT   = -13, /* the DNS server did not answer in time */
    TB_ERR_DNS_UNREACHABLE = -14, /* no DNS server could be reached */
    TB_ERR_DNS_FAILED    = -15, /* other DNS failure (bad answer, refused) */
    TB_ERR_NO_DATA       = -16, /* the Thing has no data yet */
    TB_ERR_CLOSED        = -17, /* the object is shutting down */
    TB_ERR_BAD_MESSAGE   = -18, /* malformed message from the peer */
    TB_ERR_SYSTEM        = -19  /* an OS call failed; errno has details */
};

#endif
