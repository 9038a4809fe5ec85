/* The packed text-protocol rows that bulkrows.c (sql_rows) and textrows.c (text_rows) both walk: one
 * shared reader of a row packet's length-encoded fields, so the two agree on what a short row is. */
#ifndef OTTER_TEXTPACKET_H
#define OTTER_TEXTPACKET_H
#include "native.h"

enum { TP_SHORT = -1, TP_NULL = 0, TP_VALUE = 1 };

/* The field at d[*pp] of a row payload of `len` bytes: TP_VALUE with its length in *n (the value starts
 * at d[*pp], the caller adds *n once it took it), TP_NULL (0xfb), or TP_SHORT when the payload ends
 * inside the field or its length prefix. */
static inline int
otter_text_field(const unsigned char *d, Py_ssize_t len, Py_ssize_t *pp, Py_ssize_t *n)
{
    Py_ssize_t p = *pp;
    if (p >= len)
        return TP_SHORT;
    unsigned char c = d[p++];
    unsigned long long size;
    if (c < 0xfb)
        size = c;
    else if (c == 0xfb) {
        *pp = p;
        return TP_NULL;
    }
    else if (c == 0xfc && p + 2 <= len) {
        size = d[p] | (d[p + 1] << 8);
        p += 2;
    }
    else if (c == 0xfd && p + 3 <= len) {
        size = d[p] | (d[p + 1] << 8) | ((unsigned long long)d[p + 2] << 16);
        p += 3;
    }
    else if (c == 0xfe && p + 8 <= len) {
        size = 0;
        for (int b = 7; b >= 0; b--)
            size = (size << 8) | d[p + b];
        p += 8;
    }
    else
        return TP_SHORT;
    if (size > (unsigned long long)(len - p))
        return TP_SHORT;
    *pp = p;
    *n = (Py_ssize_t)size;
    return TP_VALUE;
}

/* The payload length of the packet whose 4-byte header starts at d. */
static inline Py_ssize_t
otter_packet_len(const unsigned char *d)
{
    return d[0] | (d[1] << 8) | (d[2] << 16);
}
#endif
