/* Rows of a text-protocol result set, parsed as PyMySQL parses them (otter_mysql.bulk_read).
 *
 * text_rows(buffer, kinds, converters, rows) -> (end, status, seq)
 * text_packets(buffer) -> (end, status, seq, count, last): the same walk, rows counted, not parsed
 *   buffer: the bytes received so far, starting at a packet; kinds: bytes, one kind per column (TR_*);
 *   converters: tuple, the callable of each column (None where the kind needs none); rows: a list that
 *   gets one tuple per complete row packet. Returns the offset after the last packet consumed, the
 *   status (TR_MORE: the next packet is incomplete; TR_EOF: the next packet, complete, is the EOF packet; TR_ERROR: the
 *   next packet, complete, is an error packet; TR_LONG: the next packet is 16 MB - 1 bytes long, a row
 *   spanning packets, for the caller) and the sequence id of the last packet consumed (-1: none).
 * A kind says what PyMySQL would do with the column's bytes: keep them, decode them (UTF-8 or ASCII,
 * strict), then call the column's converter. INT, DATETIME and DATE are done here when the text has
 * the server's plain form; anything else (zero dates, other forms) calls the converter, as PyMySQL does.
 */
#include "native.h"
#include "textpacket.h"
#include <datetime.h>

enum {
    TR_BYTES = 0,      /* bytes */
    TR_UTF8 = 1,       /* str, UTF-8 */
    TR_ASCII = 2,      /* str, ASCII */
    TR_INT = 3,        /* int(ascii) */
    TR_DATETIME = 4,   /* convert_datetime(ascii), done here for 'YYYY-MM-DD HH:MM:SS[.f{1,6}]' */
    TR_DATE = 5,       /* convert_date(ascii), done here for 'YYYY-MM-DD' */
    TR_CALL_BYTES = 6, /* fn(bytes) */
    TR_CALL_UTF8 = 7,  /* fn(utf-8 str) */
    TR_CALL_ASCII = 8  /* fn(ascii str) */
};
enum { TR_MORE = 0, TR_EOF = 1, TR_ERROR = 2, TR_LONG = 3 };

static int
digits(const unsigned char *s, Py_ssize_t n, int *out)
{
    int v = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* A datetime or date of the server's plain form, or NULL without an exception when the text is not one
 * (or not a valid date: the caller then calls the converter, which returns what PyMySQL returns). */
static PyObject *
fast_temporal(const unsigned char *s, Py_ssize_t n, int with_time)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, us = 0;
    if (n < 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) || digits(s + 5, 2, &mo) ||
        digits(s + 8, 2, &d))
        return NULL;
    if (!with_time) {
        if (n != 10)
            return NULL;
    }
    else {
        if (n < 19 || s[10] != ' ' || s[13] != ':' || s[16] != ':' || digits(s + 11, 2, &h) ||
            digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
            return NULL;
        if (n > 19) {
            Py_ssize_t f = n - 20;
            if (s[19] != '.' || f < 1 || f > 6 || digits(s + 20, f, &us))
                return NULL;
            for (Py_ssize_t i = f; i < 6; i++)
                us *= 10;
        }
    }
    PyObject *v = with_time ? PyDateTime_FromDateAndTime(y, mo, d, h, mi, sec, us) : PyDate_FromDate(y, mo, d);
    if (v == NULL && PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyErr_Clear(); /* out of range (0000-00-00, Feb 31): the converter decides */
        return NULL;
    }
    return v;
}

static PyObject *
column_value(int kind, PyObject *fn, const unsigned char *s, Py_ssize_t n)
{
    PyObject *text, *v;
    switch (kind) {
    case TR_BYTES:
        return PyBytes_FromStringAndSize((const char *)s, n);
    case TR_UTF8:
        return PyUnicode_DecodeUTF8((const char *)s, n, "strict");
    case TR_ASCII:
        return PyUnicode_DecodeASCII((const char *)s, n, "strict");
    case TR_INT:
        if (n > 0 && n < 40) {
            char buf[40];
            int plain = 1;
            for (Py_ssize_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (i == 0 && s[i] == '-' && n > 1)))
                    plain = 0;
            if (plain) {
                memcpy(buf, s, n);
                buf[n] = 0;
                return PyLong_FromString(buf, NULL, 10);
            }
        }
        break; /* not a plain integer: int(text) raises or converts as PyMySQL's would */
    case TR_DATETIME:
    case TR_DATE:
        v = fast_temporal(s, n, kind == TR_DATETIME);
        if (v != NULL || PyErr_Occurred())
            return v;
        break;
    case TR_CALL_BYTES:
        text = PyBytes_FromStringAndSize((const char *)s, n);
        goto call;
    case TR_CALL_UTF8:
        text = PyUnicode_DecodeUTF8((const char *)s, n, "strict");
        goto call;
    default:
        break;
    }
    text = PyUnicode_DecodeASCII((const char *)s, n, "strict");
call:
    if (text == NULL || fn == Py_None)
        return text;
    v = PyObject_CallOneArg(fn, text);
    Py_DECREF(text);
    return v;
}

/* One row packet's payload -> tuple; -1 (ValueError) when the payload is shorter than its columns. */
static PyObject *
parse_row(const unsigned char *d, Py_ssize_t len, const char *kinds, PyObject *converters, Py_ssize_t ncols)
{
    PyObject *row = PyTuple_New(ncols);
    if (row == NULL)
        return NULL;
    Py_ssize_t p = 0;
    for (Py_ssize_t i = 0; i < ncols; i++) {
        Py_ssize_t n;
        int field = otter_text_field(d, len, &p, &n);
        if (field == TP_SHORT)
            goto short_row;
        if (field == TP_NULL) {
            PyTuple_SET_ITEM(row, i, Py_NewRef(Py_None));
            continue;
        }
        PyObject *v = column_value(kinds[i], PyTuple_GET_ITEM(converters, i), d + p, n);
        if (v == NULL) {
            Py_DECREF(row);
            return NULL;
        }
        PyTuple_SET_ITEM(row, i, v);
        p += n;
    }
    return row;
short_row:
    Py_DECREF(row);
    PyErr_Format(PyExc_ValueError, "a result row packet of %zd bytes is shorter than its %zd columns", len, ncols);
    return NULL;
}

/* The walk over complete row packets that text_rows and text_packets share: rows (NULL: none are
 * parsed, only counted) gets one tuple per row packet. Returns the offset after the last packet consumed
 * and sets status, the last packet's sequence id, the packets consumed and where the last one starts. */
static Py_ssize_t
walk(const unsigned char *d, Py_ssize_t size, const char *kinds, PyObject *converters, Py_ssize_t ncols,
     PyObject *rows, int *status, int *seq, Py_ssize_t *count, Py_ssize_t *last)
{
    Py_ssize_t p = 0;
    *status = TR_MORE;
    *seq = -1;
    *count = 0;
    *last = -1;
    while (p + 4 <= size) {
        Py_ssize_t len = otter_packet_len(d + p);
        if (len == 0xffffff) {
            *status = TR_LONG;
            break;
        }
        if (p + 4 + len > size)
            break;
        const unsigned char *payload = d + p + 4;
        if (len > 0 && payload[0] == 0xff) {
            *status = TR_ERROR;
            break;
        }
        int this_seq = d[p + 3];
        if (len > 0 && len < 9 && payload[0] == 0xfe) {
            *status = TR_EOF; /* not consumed: the caller reads the server status from it */
            break;
        }
        if (rows != NULL) {
            PyObject *row = parse_row(payload, len, kinds, converters, ncols);
            if (row == NULL || PyList_Append(rows, row) < 0) {
                Py_XDECREF(row);
                return -1;
            }
            Py_DECREF(row);
        }
        *seq = this_seq;
        *last = p;
        ++*count;
        p += 4 + len;
    }
    return p;
}

PyObject *
otter_text_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyBytes_Check(args[1]) || !PyTuple_Check(args[2]) || !PyList_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "text_rows(buffer, kinds: bytes, converters: tuple, rows: list)");
        return NULL;
    }
    if (PyDateTimeAPI == NULL) {
        PyDateTime_IMPORT;
        if (PyDateTimeAPI == NULL)
            return NULL;
    }
    Py_ssize_t ncols = PyBytes_GET_SIZE(args[1]);
    if (PyTuple_GET_SIZE(args[2]) != ncols) {
        PyErr_SetString(PyExc_ValueError, "text_rows: one converter per kind");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    int status, seq;
    Py_ssize_t count, last;
    Py_ssize_t p = walk(view.buf, view.len, PyBytes_AS_STRING(args[1]), args[2], ncols, args[3], &status, &seq,
                        &count, &last);
    PyBuffer_Release(&view);
    if (p < 0)
        return NULL;
    return Py_BuildValue("(nii)", p, status, seq);
}

/* text_packets(buffer) -> (end, status, seq, count, last): text_rows without parsing the rows (the
 * initial load's bulk path sends the packets on as they are); count: the row packets consumed, last: the
 * offset of the last one's header (-1: none). */
PyObject *
otter_text_packets(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 1) {
        PyErr_SetString(PyExc_TypeError, "text_packets(buffer)");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    int status, seq;
    Py_ssize_t count, last;
    Py_ssize_t p = walk(view.buf, view.len, NULL, NULL, 0, NULL, &status, &seq, &count, &last);
    PyBuffer_Release(&view);
    return Py_BuildValue("(niinn)", p, status, seq, count, last);
}
