/* A snapshot chunk's text-protocol rows as the VALUES list of a multi-row upsert (otter_mysql.bulk_load).
 *
 * sql_rows(raw, lits, offset, row, end_row, max_bytes, skip) -> (text, offset, row)
 *   raw: the chunk's row packets as bulk_read.FastResult kept them; lits: bytes, one literal kind per
 *   column (BL_*); offset/row: where to start (a packet boundary and its row number); end_row: the row
 *   to stop before; max_bytes: stop once the text is at least this long (one row at least; negative: only
 *   seek to end_row, writing nothing); skip: a set
 *   of row numbers to leave out (rows changed between the watermarks) or None.
 * Returns "(v,...),(v,...)" as bytes and where the next call starts; with tsv true, LOAD DATA's text
 * instead: one line per row, fields separated by tabs, LOAD DATA's escapes, NULL as \N, BIT and
 * GEOMETRY as bare hex digits (the statement sets such a column to UNHEX of its field). The server printed each value;
 * it is written back as the same value: numbers as they are, DOUBLE as a double literal (e0 appended:
 * "-0" stays -0, a plain "1.5" would be a DECIMAL literal), text quoted with PyMySQL's backslash
 * escapes (the bytes are the connection's UTF-8, copied as they are), binary as X'hex' (as
 * dialect.literal writes bytes), NULL as NULL. Types without an exact text form never get here
 * (bulk_load.literal_kinds keeps their tables on the row path).
 */
#include "native.h"
#include "textpacket.h"

enum { BL_NUMBER = 0, BL_DOUBLE = 1, BL_TEXT = 2, BL_HEX = 3, BL_BYTES = 4 };

/* LOAD DATA's escapes (FIELDS ESCAPED BY '\\'): the field and line terminators, the escape, NUL, ^Z */
static const char tsv_escape[256] = {
    [0] = '0', ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r', [0x1a] = 'Z', ['\\'] = '\\',
};
/* the upsert's quoted text: literals.c's otter_escape, 256 entries (one lookup, no test of the high bit) */
static const char sql_escape[256] = {
    [0] = '0', ['\n'] = 'n', ['\r'] = 'r', [0x1a] = 'Z', ['\\'] = '\\', ['"'] = '"', ['\''] = '\'',
};

typedef struct {
    char *buf;
    Py_ssize_t len, cap;
} Out;

static int
reserve(Out *o, Py_ssize_t more)
{
    if (o->len + more <= o->cap)
        return 0;
    Py_ssize_t cap = o->cap ? o->cap : 4096;
    while (cap < o->len + more)
        cap *= 2;
    char *b = PyMem_Realloc(o->buf, cap);
    if (b == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    o->buf = b;
    o->cap = cap;
    return 0;
}

/* s[0..n) with every byte that `escape` maps written as a backslash and its letter; room for 2n bytes
 * is reserved by the caller. The runs between escapes are copied whole: the bytes of a BLOB are mostly
 * runs, and one table lookup per byte is the only test (a loop that also tested c < 128 and wrote through
 * o->len cost ~4.5 ns per random byte, mispredicting that test half the time: most of a BLOB chunk's time). */
static inline void
put_escaped(Out *o, const unsigned char *s, Py_ssize_t n, const char escape[256])
{
    char *w = o->buf + o->len;
    Py_ssize_t run = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (escape[c]) {
            memcpy(w, s + run, i - run);
            w += i - run;
            *w++ = '\\';
            *w++ = escape[c];
            run = i + 1;
        }
    }
    memcpy(w, s + run, n - run);
    w += n - run;
    o->len = w - o->buf;
}

/* s[0..n) as 2n hex digits (room reserved by the caller). */
static inline void
put_hex(Out *o, const unsigned char *s, Py_ssize_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *w = o->buf + o->len;
    for (Py_ssize_t i = 0; i < n; i++) {
        *w++ = hex[s[i] >> 4];
        *w++ = hex[s[i] & 15];
    }
    o->len = w - o->buf;
}

/* A value as a field of LOAD DATA's tab-separated text: numbers, text and binary strings (escaped) as
 * they are, BIT and GEOMETRY as bare hex digits (the statement sets the column to UNHEX of it). */
static int
put_field(Out *o, int kind, const unsigned char *s, Py_ssize_t n)
{
    if (reserve(o, 2 * n) < 0)
        return -1;
    if (kind == BL_HEX) {
        put_hex(o, s, n);
        return 0;
    }
    put_escaped(o, s, n, tsv_escape);
    return 0;
}

static int
put_value(Out *o, int kind, const unsigned char *s, Py_ssize_t n)
{
    switch (kind) {
    case BL_NUMBER:
    case BL_DOUBLE:
        if (reserve(o, n + 2) < 0)
            return -1;
        memcpy(o->buf + o->len, s, n);
        o->len += n;
        if (kind == BL_DOUBLE && memchr(s, 'e', n) == NULL && memchr(s, 'E', n) == NULL) {
            o->buf[o->len++] = 'e';
            o->buf[o->len++] = '0';
        }
        return 0;
    case BL_TEXT:
        if (reserve(o, 2 * n + 2) < 0)
            return -1;
        o->buf[o->len++] = '\'';
        put_escaped(o, s, n, sql_escape);
        o->buf[o->len++] = '\'';
        return 0;
    case BL_HEX:
    case BL_BYTES:
        if (reserve(o, 2 * n + 3) < 0)
            return -1;
        o->buf[o->len++] = 'X';
        o->buf[o->len++] = '\'';
        put_hex(o, s, n);
        o->buf[o->len++] = '\'';
        return 0;
    default:
        PyErr_Format(PyExc_ValueError, "sql_rows: unknown literal kind %d", kind);
        return -1;
    }
}

/* One row packet's payload as "(v,...)"; -1 with ValueError when it is shorter than its columns. */
static int
put_row(Out *o, const unsigned char *d, Py_ssize_t len, const char *lits, Py_ssize_t ncols, int tsv)
{
    Py_ssize_t p = 0;
    if (reserve(o, 2) < 0)
        return -1;
    if (!tsv)
        o->buf[o->len++] = '(';
    for (Py_ssize_t i = 0; i < ncols; i++) {
        if (i && (reserve(o, 1) < 0 || (o->buf[o->len++] = tsv ? '\t' : ',', 0)))
            return -1;
        Py_ssize_t n;
        int field = otter_text_field(d, len, &p, &n);
        if (field == TP_SHORT)
            goto short_row;
        if (field == TP_NULL) {
            if (reserve(o, 4) < 0)
                return -1;
            memcpy(o->buf + o->len, tsv ? "\\N" : "NULL", tsv ? 2 : 4);
            o->len += tsv ? 2 : 4;
            continue;
        }
        if ((tsv ? put_field(o, lits[i], d + p, n) : put_value(o, lits[i], d + p, n)) < 0)
            return -1;
        p += n;
    }
    if (reserve(o, 1) < 0)
        return -1;
    o->buf[o->len++] = tsv ? '\n' : ')';
    return 0;
short_row:
    PyErr_Format(PyExc_ValueError, "a result row packet of %zd bytes is shorter than its %zd columns", len, ncols);
    return -1;
}

PyObject *
otter_sql_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if ((nargs != 7 && nargs != 8) || !PyBytes_Check(args[0]) || !PyBytes_Check(args[1]) ||
        (args[6] != Py_None && !PyAnySet_Check(args[6]))) {
        PyErr_SetString(PyExc_TypeError,
                        "sql_rows(raw: bytes, lits: bytes, offset, row, end_row, max_bytes, skip: set | None[, tsv])");
        return NULL;
    }
    Py_ssize_t offset = PyLong_AsSsize_t(args[2]), row = PyLong_AsSsize_t(args[3]);
    Py_ssize_t end_row = PyLong_AsSsize_t(args[4]), max_bytes = PyLong_AsSsize_t(args[5]);
    int tsv = nargs == 8 ? PyObject_IsTrue(args[7]) : 0;
    if (PyErr_Occurred() || tsv < 0)
        return NULL;
    const unsigned char *d = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]), ncols = PyBytes_GET_SIZE(args[1]);
    const char *lits = PyBytes_AS_STRING(args[1]);
    PyObject *skip = args[6] != Py_None && PySet_GET_SIZE(args[6]) ? args[6] : NULL;
    Out o = {NULL, 0, 0};
    while (row < end_row && (max_bytes < 0 || o.len < max_bytes)) {
        if (offset < 0 || offset + 4 > size)
            goto truncated;
        Py_ssize_t len = otter_packet_len(d + offset);
        if (offset + 4 + len > size)
            goto truncated;
        int left_out = 0;
        if (skip != NULL && max_bytes >= 0) {
            PyObject *number = PyLong_FromSsize_t(row);
            if (number == NULL)
                goto fail;
            left_out = PySet_Contains(skip, number);
            Py_DECREF(number);
            if (left_out < 0)
                goto fail;
        }
        if (!left_out && max_bytes >= 0) {
            if (!tsv && o.len && (reserve(&o, 1) < 0 || (o.buf[o.len++] = ',', 0)))
                goto fail;
            if (put_row(&o, d + offset + 4, len, lits, ncols, tsv) < 0)
                goto fail;
        }
        offset += 4 + len;
        row++;
    }
    PyObject *text = PyBytes_FromStringAndSize(o.buf ? o.buf : "", o.len);
    PyMem_Free(o.buf);
    if (text == NULL)
        return NULL;
    return Py_BuildValue("(Nnn)", text, offset, row);
truncated:
    PyErr_Format(PyExc_ValueError, "sql_rows: packed rows end inside row %zd (offset %zd of %zd)", row, offset, size);
fail:
    PyMem_Free(o.buf);
    return NULL;
}
