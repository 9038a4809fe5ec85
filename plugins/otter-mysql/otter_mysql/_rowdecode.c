/* Compiled row-image decoder for otter_mysql.rowcodec (optional: rowcodec falls back to generated Python).
 *
 * A Decoder is built once per (table layout, rows-event kind, present-column bitmaps) from a list of
 * per-column operations that otter_mysql.rowops derives from the table map and the schema cache. Calling
 * it with a rows-event body returns exactly what the generated Python decoder returns:
 *   WRITE/DELETE: [(keys, columns, size), ...]
 *   UPDATE:       [(keys, columns, old_keys or None, frozenset(updated), size), ...]
 * Integers, floats, YEAR, ENUM and strings are decoded here; the other types read their fixed-size
 * integer here and call the Python function rowops gives (DECIMAL, dates and times, SET...), through a
 * per-column memo dict when rowops gives one (``memo.get(x) or fn(x)``, as the generated code does).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <string.h>

enum {
    OP_INT = 0,       /* little-endian signed integer of `size` bytes */
    OP_UINT = 1,      /* little-endian unsigned integer */
    OP_FLOAT = 2,     /* 4-byte IEEE float */
    OP_DOUBLE = 3,    /* 8-byte IEEE double */
    OP_YEAR = 4,      /* 1 byte, 0 or year - 1900 */
    OP_BE_CALL = 5,   /* big-endian unsigned integer -> fn(x) (fn None: the int) */
    OP_LE_CALL = 6,   /* little-endian unsigned integer -> fn(x) */
    OP_LE_SCALL = 7,  /* little-endian signed integer -> fn(x) */
    OP_ENUM = 8,      /* little-endian index into the `labels` tuple */
    OP_BYTES = 9,     /* length-prefixed (`size`-byte length) bytes, padded with 0x00 to `pad` */
    OP_UTF8 = 10,     /* length-prefixed UTF-8 text (strict) */
    OP_BYTES_CALL = 11, /* length-prefixed bytes -> fn(raw) */
    /* native temporal and decimal values; fn(x) (x: the value's integer, as OP_BE_CALL/OP_LE_CALL
       would pass it) for what Python's types cannot hold (zero dates), `pad` carries the layout */
    OP_DATE = 12,      /* 3 bytes LE -> date */
    OP_DATETIME2 = 13, /* 5 + pad bytes BE -> datetime (pad: fractional bytes) */
    OP_TIMESTAMP2 = 14,/* 4 + pad bytes BE -> aware UTC datetime (fn: the utc tzinfo) */
    OP_TIME2 = 15,     /* 3 + pad bytes BE -> timedelta */
    OP_DECIMAL = 16    /* packed DECIMAL -> fn(text) (fn: decimal.Decimal); pad = precision << 8 | scale */
};

static const int FRAC_MULT[4] = {1, 10000, 100, 1};
static const int DIG2BYTES[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};

typedef struct {
    Py_ssize_t column;  /* ordinal of the column in the table */
    int op;
    Py_ssize_t size;    /* fixed size, or the width of the length prefix */
    Py_ssize_t pad;
    PyObject *fn;       /* borrowed from Decoder.spec; NULL for none */
    PyObject *memo;     /* borrowed dict or NULL */
} Op;

typedef struct {
    PyObject_HEAD
    int update;
    Py_ssize_t ncolumns;
    Op *ops[2];
    Py_ssize_t nops[2];
    Py_ssize_t *keys, nkeys;
    Py_ssize_t *data, ndata;
    PyObject *key_names;   /* tuple of str */
    PyObject *data_names;  /* tuple of str */
    PyObject *spec;        /* the constructor arguments: keeps every borrowed object alive */
} Decoder;

static PyObject *Truncated;

static int
truncated(Py_ssize_t p, Py_ssize_t need, Py_ssize_t end)
{
    PyErr_Format(Truncated, "row image truncated: %zd bytes needed at offset %zd of %zd", need, p, end);
    return -1;
}

static unsigned long long
le_uint(const unsigned char *b, Py_ssize_t n)
{
    unsigned long long x = 0;
    for (Py_ssize_t i = n - 1; i >= 0; i--)
        x = (x << 8) | b[i];
    return x;
}

static long long
le_int(const unsigned char *b, Py_ssize_t n)
{
    unsigned long long x = le_uint(b, n);
    if (n < 8 && (x >> (8 * n - 1)) & 1)
        x |= ~0ULL << (8 * n);
    return (long long)x;
}

static unsigned long long
be_uint(const unsigned char *b, Py_ssize_t n)
{
    unsigned long long x = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        x = (x << 8) | b[i];
    return x;
}

/* MySQL's packed DECIMAL (strings/decimal.c bin2decimal) as text, then fn(text), fn being Decimal:
   leading partial group, groups of 9 digits in 4 bytes, trailing partial group; sign in the top bit,
   negative values stored with every bit inverted. */
static PyObject *
decimal_value(Op *op, const unsigned char *b, Py_ssize_t n)
{
    int precision = (int)(op->pad >> 8), scale = (int)(op->pad & 255);
    int intg = precision - scale, intg0 = intg / 9, intg0x = intg % 9, frac0 = scale / 9, frac0x = scale % 9;
    unsigned char raw[40];
    char text[100], *t = text;
    if (n > (Py_ssize_t)sizeof(raw) || precision > 80 || scale > precision || intg0 + frac0 > 20) {
        PyErr_SetString(PyExc_ValueError, "DECIMAL too wide");
        return NULL;
    }
    memcpy(raw, b, n);
    int negative = !(raw[0] & 0x80);
    raw[0] ^= 0x80;
    if (negative)
        for (Py_ssize_t i = 0; i < n; i++)
            raw[i] = ~raw[i];
    const unsigned char *p = raw;
    char digits[100];
    int nd = 0, ng = 0, groups[24][2];
    if (intg0x) {
        groups[ng][0] = DIG2BYTES[intg0x];
        groups[ng++][1] = intg0x;
    }
    for (int i = 0; i < intg0 + frac0; i++) {
        groups[ng][0] = 4;
        groups[ng++][1] = 9;
    }
    if (frac0x) {
        groups[ng][0] = DIG2BYTES[frac0x];
        groups[ng++][1] = frac0x;
    }
    for (int g = 0; g < ng; g++) {
        int nbytes = groups[g][0], ndig = groups[g][1];
        if (p + nbytes - raw > n) {
            PyErr_SetString(PyExc_ValueError, "DECIMAL size does not match its precision");
            return NULL;
        }
        unsigned long v = (unsigned long)be_uint(p, nbytes);
        p += nbytes;
        char group[24];
        int len = snprintf(group, sizeof(group), "%0*lu", ndig, v);
        if (len != ndig) { /* corrupt: more digits than the group holds */
            PyErr_SetString(PyExc_ValueError, "corrupt DECIMAL group");
            return NULL;
        }
        memcpy(digits + nd, group, len);
        nd += len;
    }
    if (p - raw != n) {
        PyErr_SetString(PyExc_ValueError, "DECIMAL size does not match its precision");
        return NULL;
    }
    int zero = 1;
    for (int i = 0; i < nd; i++)
        zero &= digits[i] == '0';
    if (negative && !zero)
        *t++ = '-';
    int ni = nd - scale, start = 0;
    while (start < ni - 1 && digits[start] == '0')
        start++;
    if (ni == 0)
        *t++ = '0';
    memcpy(t, digits + start, ni - start);
    t += ni - start;
    if (scale) {
        *t++ = '.';
        memcpy(t, digits + ni, scale);
        t += scale;
    }
    PyObject *str = PyUnicode_FromStringAndSize(text, t - text);
    if (str == NULL)
        return NULL;
    PyObject *value = PyObject_CallOneArg(op->fn, str);
    Py_DECREF(str);
    return value;
}

static PyObject *
call_memo(Op *op, PyObject *x)
{
    if (x == NULL)
        return NULL;
    if (op->fn == NULL)
        return x;
    if (op->memo != NULL) {
        PyObject *hit = PyDict_GetItemWithError(op->memo, x);
        if (hit != NULL) {
            int truth = PyObject_IsTrue(hit);
            if (truth > 0) {
                Py_DECREF(x);
                Py_INCREF(hit);
                return hit;
            }
            if (truth < 0) {
                Py_DECREF(x);
                return NULL;
            }
        }
        else if (PyErr_Occurred()) {
            Py_DECREF(x);
            return NULL;
        }
    }
    PyObject *value = PyObject_CallOneArg(op->fn, x);
    Py_DECREF(x);
    return value;
}

/* A value built natively, or fn(x) when Python's type cannot hold it (zero or invalid dates): the
   generated Python decoder returns the same text for those. Steals nothing. */
static PyObject *
native_or_fallback(Op *op, PyObject *value, unsigned long long x)
{
    if (value != NULL || !PyErr_ExceptionMatches(PyExc_ValueError))
        return value;
    PyErr_Clear();
    return call_memo(op, PyLong_FromUnsignedLongLong(x));
}

static PyObject *
read_value(Op *op, const unsigned char *d, Py_ssize_t *pp, Py_ssize_t end)
{
    Py_ssize_t p = *pp, n = op->size;
    const unsigned char *b = d + p;
    PyObject *v;
    if (op->op >= OP_BYTES && op->op <= OP_BYTES_CALL) {
        if (p + n > end) {
            truncated(p, n, end);
            return NULL;
        }
        Py_ssize_t len = (Py_ssize_t)le_uint(b, n);
        p += n;
        b += n;
        if (len < 0 || p + len > end) {
            truncated(p, len, end);
            return NULL;
        }
        *pp = p + len;
        if (op->op == OP_UTF8)
            return PyUnicode_DecodeUTF8((const char *)b, len, NULL);
        if (op->op == OP_BYTES && op->pad > len) {
            v = PyBytes_FromStringAndSize(NULL, op->pad);
            if (v != NULL) {
                memcpy(PyBytes_AS_STRING(v), b, len);
                memset(PyBytes_AS_STRING(v) + len, 0, op->pad - len);
            }
            return v;
        }
        v = PyBytes_FromStringAndSize((const char *)b, len);
        if (op->op == OP_BYTES || v == NULL)
            return v;
        PyObject *value = PyObject_CallOneArg(op->fn, v);
        Py_DECREF(v);
        return value;
    }
    if (p + n > end) {
        truncated(p, n, end);
        return NULL;
    }
    *pp = p + n;
    switch (op->op) {
    case OP_INT:
        return PyLong_FromLongLong(le_int(b, n));
    case OP_UINT:
        return PyLong_FromUnsignedLongLong(le_uint(b, n));
#if PY_VERSION_HEX >= 0x030B0000
    case OP_FLOAT:
        return PyFloat_FromDouble(PyFloat_Unpack4((const char *)b, 1));
    case OP_DOUBLE:
        return PyFloat_FromDouble(PyFloat_Unpack8((const char *)b, 1));
#else
    case OP_FLOAT:
        return PyFloat_FromDouble(_PyFloat_Unpack4(b, 1));
    case OP_DOUBLE:
        return PyFloat_FromDouble(_PyFloat_Unpack8(b, 1));
#endif
    case OP_YEAR:
        return PyLong_FromLong(b[0] ? b[0] + 1900 : 0);
    case OP_BE_CALL:
        if (n <= 8) {
            unsigned long long x = 0;
            for (Py_ssize_t i = 0; i < n; i++)
                x = (x << 8) | b[i];
            v = PyLong_FromUnsignedLongLong(x);
        }
        else {
            v = _PyLong_FromByteArray(b, (size_t)n, 0, 0);
        }
        return call_memo(op, v);
    case OP_LE_CALL:
        return call_memo(op, PyLong_FromUnsignedLongLong(le_uint(b, n)));
    case OP_LE_SCALL:
        return call_memo(op, PyLong_FromLongLong(le_int(b, n)));
    case OP_ENUM: {
        unsigned long long i = le_uint(b, n);
        if (i >= (unsigned long long)PyTuple_GET_SIZE(op->fn)) {
            PyErr_Format(PyExc_IndexError, "ENUM index %llu outside the column's %zd labels", i,
                         PyTuple_GET_SIZE(op->fn) - 1);
            return NULL;
        }
        v = PyTuple_GET_ITEM(op->fn, (Py_ssize_t)i);
        Py_INCREF(v);
        return v;
    }
    case OP_DATE: {
        unsigned long long x = le_uint(b, 3);
        int day = x & 31, month = (x >> 5) & 15, year = (int)(x >> 9);
        if (day && month && year)
            return native_or_fallback(op, PyDate_FromDate(year, month, day), x);
        return call_memo(op, PyLong_FromUnsignedLongLong(x));
    }
    case OP_DATETIME2: {
        unsigned long long x = be_uint(b, n);
        long long packed = (long long)(x >> (8 * op->pad)) - 0x8000000000LL;
        long long ymd = packed >> 17, hms = packed & 0x1FFFF, ym = ymd >> 5;
        int year = (int)(ym / 13), month = (int)(ym % 13), day = (int)(ymd & 31);
        int micro = (int)(x & ((1ULL << (8 * op->pad)) - 1)) * FRAC_MULT[op->pad];
        if (packed >= 0 && year >= 1 && month && day && micro < 1000000)
            return native_or_fallback(op, PyDateTime_FromDateAndTime(year, month, day, (int)(hms >> 12),
                                                                     (int)((hms >> 6) & 63), (int)(hms & 63),
                                                                     micro), x);
        return call_memo(op, PyLong_FromUnsignedLongLong(x));
    }
    case OP_TIMESTAMP2: {
        unsigned long long x = be_uint(b, n);
        long long secs = (long long)(x >> (8 * op->pad));
        int micro = (int)(x & ((1ULL << (8 * op->pad)) - 1)) * FRAC_MULT[op->pad];
        if (x == 0 || micro >= 1000000)
            return call_memo(op, PyLong_FromUnsignedLongLong(x));
        /* days since 1970-01-01 -> civil date (Howard Hinnant's algorithm) */
        long long days = secs / 86400, rem = secs % 86400, z = days + 719468;
        long long era = z / 146097, doe = z - era * 146097;
        long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
        int day = (int)(doy - (153 * mp + 2) / 5 + 1), month = (int)(mp < 10 ? mp + 3 : mp - 9);
        int year = (int)(yoe + era * 400 + (month <= 2));
        return native_or_fallback(
            op, PyDateTimeAPI->DateTime_FromDateAndTime(year, month, day, (int)(rem / 3600), (int)(rem / 60 % 60),
                                                        (int)(rem % 60), micro, PyDateTime_TimeZone_UTC,
                                                        PyDateTimeAPI->DateTimeType), x);
    }
    case OP_TIME2: {
        unsigned long long x = be_uint(b, n);
        long long v = (long long)x - (long long)(0x800000ULL << (8 * op->pad));
        int neg = v < 0;
        if (neg)
            v = -v;
        long long hms = v >> (8 * op->pad);
        int micro = (int)(v & ((1LL << (8 * op->pad)) - 1)) * FRAC_MULT[op->pad];
        int secs = (int)(((hms >> 12) & 0x3FF) * 3600 + ((hms >> 6) & 63) * 60 + (hms & 63));
        return neg ? PyDelta_FromDSU(0, -secs, -micro) : PyDelta_FromDSU(0, secs, micro);
    }
    case OP_DECIMAL:
        return decimal_value(op, b, n);
    }
    PyErr_Format(PyExc_SystemError, "unknown row operation %d", op->op);
    return NULL;
}

/* Decode one row image at *pp into vals[column]; 0 or -1 with an exception set. */
static int
read_image(Op *ops, Py_ssize_t nops, const unsigned char *d, Py_ssize_t *pp, Py_ssize_t end, PyObject **vals)
{
    Py_ssize_t width = (nops + 7) / 8;
    if (*pp + width > end)
        return truncated(*pp, width, end);
    const unsigned char *nulls = d + *pp;
    *pp += width;
    for (Py_ssize_t i = 0; i < nops; i++) {
        Op *op = &ops[i];
        PyObject *v;
        if ((nulls[i >> 3] >> (i & 7)) & 1) {
            v = Py_None;
            Py_INCREF(v);
        }
        else if ((v = read_value(op, d, pp, end)) == NULL) {
            return -1;
        }
        Py_XSETREF(vals[op->column], v);
    }
    return 0;
}

static PyObject *
make_dict(PyObject *names, Py_ssize_t *index, Py_ssize_t count, PyObject **vals)
{
    PyObject *dict = PyDict_New();
    if (dict == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (PyDict_SetItem(dict, PyTuple_GET_ITEM(names, i), vals[index[i]]) < 0) {
            Py_DECREF(dict);
            return NULL;
        }
    }
    return dict;
}

static PyObject *
decode_update(Decoder *self, PyObject **b, PyObject **a, Py_ssize_t size)
{
    PyObject *keys = NULL, *cols = NULL, *old = NULL, *changed = NULL, *updated = NULL;
    int key_changed = 0;
    for (Py_ssize_t i = 0; i < self->nkeys && !key_changed; i++) {
        key_changed = PyObject_RichCompareBool(b[self->keys[i]], a[self->keys[i]], Py_NE);
        if (key_changed < 0)
            return NULL;
    }
    if ((changed = PyList_New(0)) == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < self->ndata; i++) {
        Py_ssize_t c = self->data[i];
        int ne = PyObject_RichCompareBool(b[c], a[c], Py_NE);
        if (ne < 0 || (ne && PyList_Append(changed, PyTuple_GET_ITEM(self->data_names, i)) < 0))
            goto fail;
    }
    if ((updated = PyFrozenSet_New(changed)) == NULL)
        goto fail;
    Py_CLEAR(changed);
    if ((keys = make_dict(self->key_names, self->keys, self->nkeys, a)) == NULL ||
        (cols = make_dict(self->data_names, self->data, self->ndata, a)) == NULL)
        goto fail;
    if (key_changed) {
        if ((old = make_dict(self->key_names, self->keys, self->nkeys, b)) == NULL)
            goto fail;
    }
    else {
        old = Py_None;
        Py_INCREF(old);
    }
    return Py_BuildValue("(NNNNn)", keys, cols, old, updated, size);
fail:
    Py_XDECREF(changed);
    Py_XDECREF(updated);
    Py_XDECREF(keys);
    Py_XDECREF(cols);
    Py_XDECREF(old);
    return NULL;
}

static PyObject *
Decoder_call(Decoder *self, PyObject *args, PyObject *kwargs)
{
    Py_buffer buf;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "a row decoder takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*:decode", &buf))
        return NULL;
    const unsigned char *d = buf.buf;
    Py_ssize_t end = buf.len, p = 0;
    PyObject *out = PyList_New(0);
    PyObject **vals = PyMem_Calloc(2 * self->ncolumns + 1, sizeof(PyObject *));
    if (out == NULL || vals == NULL) {
        PyBuffer_Release(&buf);
        PyMem_Free(vals);
        Py_XDECREF(out);
        return vals == NULL ? PyErr_NoMemory() : NULL;
    }
    PyObject **after = vals + self->ncolumns;
    while (p < end) {
        Py_ssize_t start = p;
        PyObject *row;
        if (read_image(self->ops[0], self->nops[0], d, &p, end, vals) < 0)
            goto fail;
        if (self->update) {
            if (read_image(self->ops[1], self->nops[1], d, &p, end, after) < 0)
                goto fail;
            row = decode_update(self, vals, after, p - start);
        }
        else {
            PyObject *keys = make_dict(self->key_names, self->keys, self->nkeys, vals);
            PyObject *cols = keys ? make_dict(self->data_names, self->data, self->ndata, vals) : NULL;
            if (cols == NULL) {
                Py_XDECREF(keys);
                goto fail;
            }
            row = Py_BuildValue("(NNn)", keys, cols, p - start);
        }
        if (row == NULL || PyList_Append(out, row) < 0) {
            Py_XDECREF(row);
            goto fail;
        }
        Py_DECREF(row);
    }
    for (Py_ssize_t i = 0; i < 2 * self->ncolumns; i++)
        Py_XDECREF(vals[i]);
    PyMem_Free(vals);
    PyBuffer_Release(&buf);
    return out;
fail:
    for (Py_ssize_t i = 0; i < 2 * self->ncolumns; i++)
        Py_XDECREF(vals[i]);
    PyMem_Free(vals);
    PyBuffer_Release(&buf);
    Py_DECREF(out);
    return NULL;
}

static int
parse_index(PyObject *seq, Py_ssize_t ncolumns, Py_ssize_t **out, Py_ssize_t *count)
{
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    *out = PyMem_Calloc(n + 1, sizeof(Py_ssize_t));
    if (*out == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *count = n;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t c = PyLong_AsSsize_t(PyTuple_GET_ITEM(seq, i));
        if (c == -1 && PyErr_Occurred())
            return -1;
        if (c < 0 || c >= ncolumns) {
            PyErr_Format(PyExc_ValueError, "column index %zd outside 0..%zd", c, ncolumns - 1);
            return -1;
        }
        (*out)[i] = c;
    }
    return 0;
}

/* ops: tuple of (column, op, size, pad, fn or None, memo or None) */
static int
parse_ops(PyObject *seq, Py_ssize_t ncolumns, Op **out, Py_ssize_t *count)
{
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    *out = PyMem_Calloc(n + 1, sizeof(Op));
    if (*out == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *count = n;
    for (Py_ssize_t i = 0; i < n; i++) {
        Op *op = &(*out)[i];
        PyObject *fn, *memo;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(seq, i), "ninnOO:op", &op->column, &op->op, &op->size, &op->pad,
                              &fn, &memo))
            return -1;
        op->fn = fn == Py_None ? NULL : fn;
        op->memo = memo == Py_None ? NULL : memo;
        if (op->column < 0 || op->column >= ncolumns || op->op < OP_INT || op->op > OP_DECIMAL ||
            op->size < 0 || op->size > 64) {
            PyErr_Format(PyExc_ValueError, "bad row operation %zd", i);
            return -1;
        }
        if ((op->op < OP_BYTES || op->op > OP_BYTES_CALL) && op->op != OP_BE_CALL && op->op != OP_DECIMAL &&
            op->size > 8) {
            PyErr_Format(PyExc_ValueError, "operation %zd: integer of %zd bytes", i, op->size);
            return -1;
        }
        if ((op->op == OP_ENUM && (op->fn == NULL || !PyTuple_Check(op->fn))) ||
            ((op->op == OP_BYTES_CALL || op->op == OP_LE_CALL || op->op == OP_LE_SCALL || op->op >= OP_DATE) &&
             op->fn == NULL) ||
            (op->memo != NULL && !PyDict_Check(op->memo))) {
            PyErr_Format(PyExc_TypeError, "operation %zd: missing function, labels or memo", i);
            return -1;
        }
    }
    return 0;
}

static void
Decoder_dealloc(Decoder *self)
{
    PyMem_Free(self->ops[0]);
    PyMem_Free(self->ops[1]);
    PyMem_Free(self->keys);
    PyMem_Free(self->data);
    Py_XDECREF(self->key_names);
    Py_XDECREF(self->data_names);
    Py_XDECREF(self->spec);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Decoder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"ncolumns", "before", "after", "keys", "key_names", "data", "data_names", NULL};
    Py_ssize_t ncolumns;
    PyObject *before, *after, *keys, *key_names, *data, *data_names;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "nO!OO!O!O!O!:Decoder", names, &ncolumns, &PyTuple_Type,
                                     &before, &after, &PyTuple_Type, &keys, &PyTuple_Type, &key_names,
                                     &PyTuple_Type, &data, &PyTuple_Type, &data_names))
        return NULL;
    if (after != Py_None && !PyTuple_Check(after)) {
        PyErr_SetString(PyExc_TypeError, "after must be a tuple of operations or None");
        return NULL;
    }
    if (PyTuple_GET_SIZE(keys) != PyTuple_GET_SIZE(key_names) ||
        PyTuple_GET_SIZE(data) != PyTuple_GET_SIZE(data_names) || ncolumns < 1) {
        PyErr_SetString(PyExc_ValueError, "column indexes and names differ in length");
        return NULL;
    }
    Decoder *self = (Decoder *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->ncolumns = ncolumns;
    self->update = after != Py_None;
    Py_INCREF(args);
    self->spec = args;
    Py_INCREF(key_names);
    self->key_names = key_names;
    Py_INCREF(data_names);
    self->data_names = data_names;
    if (parse_ops(before, ncolumns, &self->ops[0], &self->nops[0]) < 0 ||
        (self->update && parse_ops(after, ncolumns, &self->ops[1], &self->nops[1]) < 0) ||
        parse_index(keys, ncolumns, &self->keys, &self->nkeys) < 0 ||
        parse_index(data, ncolumns, &self->data, &self->ndata) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static PyTypeObject DecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "otter_mysql._rowdecode.Decoder",
    .tp_doc = "Decoder(ncolumns, before, after, keys, key_names, data, data_names): rows-event body -> rows",
    .tp_basicsize = sizeof(Decoder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Decoder_new,
    .tp_dealloc = (destructor)Decoder_dealloc,
    .tp_call = (ternaryfunc)Decoder_call,
};


/* ---- SQL literals (otter_mysql.dialect.literal_row): the loader's other hot loop ------------------- */

static const char ESCAPE[128] = {
    [0] = '0', ['\n'] = 'n', ['\r'] = 'r', [0x1a] = 'Z', ['\\'] = '\\', ['"'] = '"', ['\''] = '\'',
};

/* 'text' with backslash escapes, exactly as PyMySQL's escape_string (and dialect._lit_str). */
static PyObject *
lit_str(PyObject *s)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s), extra = 0, j = 0;
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        extra += ch < 128 && ESCAPE[ch];
    }
    Py_UCS4 maxchar = PyUnicode_MAX_CHAR_VALUE(s);
    PyObject *out = PyUnicode_New(n + extra + 2, maxchar < 127 ? 127 : maxchar);
    if (out == NULL)
        return NULL;
    int okind = PyUnicode_KIND(out);
    void *odata = PyUnicode_DATA(out);
    PyUnicode_WRITE(okind, odata, j++, '\'');
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch < 128 && ESCAPE[ch]) {
            PyUnicode_WRITE(okind, odata, j++, '\\');
            PyUnicode_WRITE(okind, odata, j++, (Py_UCS4)ESCAPE[ch]);
        }
        else {
            PyUnicode_WRITE(okind, odata, j++, ch);
        }
    }
    PyUnicode_WRITE(okind, odata, j++, '\'');
    return out;
}

static PyObject *
lit_bytes(const unsigned char *b, Py_ssize_t n)
{
    static const char hex[] = "0123456789abcdef";
    PyObject *out = PyUnicode_New(2 * n + 3, 127);
    if (out == NULL)
        return NULL;
    Py_UCS1 *o = PyUnicode_1BYTE_DATA(out);
    *o++ = 'X';
    *o++ = '\'';
    for (Py_ssize_t i = 0; i < n; i++) {
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\'';
    return out;
}

static PyObject *
lit_value(PyObject *v, PyObject *fallback)
{
    char text[48];
    if (v == Py_None)
        return PyUnicode_FromString("NULL");
    if (PyUnicode_CheckExact(v))
        return lit_str(v);
    if (PyLong_CheckExact(v))
        return PyObject_Str(v);
    if (PyBool_Check(v))
        return PyUnicode_FromString(v == Py_True ? "1" : "0");
    if (PyBytes_CheckExact(v))
        return lit_bytes((const unsigned char *)PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v));
    if (PyDateTime_CheckExact(v)) {  /* isoformat(" ") of the wall time (an aware value keeps it) */
        int us = PyDateTime_DATE_GET_MICROSECOND(v);
        int len = snprintf(text, sizeof(text), "'%04d-%02d-%02d %02d:%02d:%02d", PyDateTime_GET_YEAR(v),
                           PyDateTime_GET_MONTH(v), PyDateTime_GET_DAY(v), PyDateTime_DATE_GET_HOUR(v),
                           PyDateTime_DATE_GET_MINUTE(v), PyDateTime_DATE_GET_SECOND(v));
        if (us)
            len += snprintf(text + len, sizeof(text) - len, ".%06d", us);
        text[len++] = '\'';
        return PyUnicode_FromStringAndSize(text, len);
    }
    if (PyDate_CheckExact(v)) {
        int len = snprintf(text, sizeof(text), "'%04d-%02d-%02d'", PyDateTime_GET_YEAR(v), PyDateTime_GET_MONTH(v),
                           PyDateTime_GET_DAY(v));
        return PyUnicode_FromStringAndSize(text, len);
    }
    PyObject *s = PyObject_CallOneArg(fallback, v);
    if (s != NULL && !PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "the literal function returned %.80s, not str", Py_TYPE(s)->tp_name);
        Py_CLEAR(s);
    }
    return s;
}

/* sql_literal_row(values, literal) -> "(v1,v2,...)"; ``literal`` renders what is not handled here. */
static PyObject *
sql_literal_row(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "sql_literal_row(values, literal)");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(args[0], "values must be iterable");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *parts = PyList_New(n), *joined = NULL, *out = NULL;
    if (parts == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *lit = lit_value(items[i], args[1]);
        if (lit == NULL)
            goto done;
        PyList_SET_ITEM(parts, i, lit);
    }
    static PyObject *comma;
    if (comma == NULL && (comma = PyUnicode_InternFromString(",")) == NULL)
        goto done;
    if ((joined = PyUnicode_Join(comma, parts)) == NULL)
        goto done;
    Py_ssize_t len = PyUnicode_GET_LENGTH(joined);
    Py_UCS4 maxchar = PyUnicode_MAX_CHAR_VALUE(joined);
    if ((out = PyUnicode_New(len + 2, maxchar < 127 ? 127 : maxchar)) == NULL)
        goto done;
    PyUnicode_WRITE(PyUnicode_KIND(out), PyUnicode_DATA(out), 0, '(');
    if (PyUnicode_CopyCharacters(out, 1, joined, 0, len) < 0) {
        Py_CLEAR(out);
        goto done;
    }
    PyUnicode_WRITE(PyUnicode_KIND(out), PyUnicode_DATA(out), len + 1, ')');
done:
    Py_XDECREF(joined);
    Py_XDECREF(parts);
    Py_DECREF(seq);
    return out;
}


/* ---- EventData without its generated __init__ (otter_mysql.handover) --------------------------------- */

/* build_events(cls, descriptors, template, rows, places) -> [cls instances]
   Every instance starts from ``template`` (one value per field, in the order of ``descriptors``, the
   member descriptors of cls's slots) and gets each row's items at the field indexes ``places``; values
   are set through the descriptors, as attrs' own __init__ does with object.__setattr__. */
static PyObject *
build_events(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 5 || !PyType_Check(args[0]) || !PyTuple_Check(args[1]) || !PyTuple_Check(args[2]) ||
        !PyList_Check(args[3]) || !PyTuple_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError, "build_events(cls, descriptors, template, rows: list, places)");
        return NULL;
    }
    PyTypeObject *cls = (PyTypeObject *)args[0];
    PyObject *descrs = args[1], *template = args[2], *rows = args[3], *places = args[4];
    Py_ssize_t nfields = PyTuple_GET_SIZE(descrs), nplaces = PyTuple_GET_SIZE(places), at[64];
    if (nfields != PyTuple_GET_SIZE(template) || nfields > 64 || nplaces > nfields) {
        PyErr_SetString(PyExc_ValueError, "descriptors, template and places do not fit");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nfields; i++) {
        descrsetfunc set = Py_TYPE(PyTuple_GET_ITEM(descrs, i))->tp_descr_set;
        if (set == NULL) {
            PyErr_Format(PyExc_TypeError, "descriptor %zd cannot set a value", i);
            return NULL;
        }
    }
    for (Py_ssize_t j = 0; j < nplaces; j++) {
        at[j] = PyLong_AsSsize_t(PyTuple_GET_ITEM(places, j));
        if (at[j] < 0 || at[j] >= nfields) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "place outside the fields");
            return NULL;
        }
    }
    Py_ssize_t nrows = PyList_GET_SIZE(rows);
    PyObject *out = PyList_New(nrows);
    if (out == NULL)
        return NULL;
    PyObject *vals[64];
    for (Py_ssize_t r = 0; r < nrows; r++) {
        PyObject *row = PyList_GET_ITEM(rows, r);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != nplaces) {
            PyErr_Format(PyExc_ValueError, "row %zd is not a tuple of %zd items", r, nplaces);
            goto fail;
        }
        for (Py_ssize_t i = 0; i < nfields; i++)
            vals[i] = PyTuple_GET_ITEM(template, i);
        for (Py_ssize_t j = 0; j < nplaces; j++)
            vals[at[j]] = PyTuple_GET_ITEM(row, j);
        PyObject *obj = cls->tp_alloc(cls, 0);
        if (obj == NULL)
            goto fail;
        PyList_SET_ITEM(out, r, obj);
        for (Py_ssize_t i = 0; i < nfields; i++) {
            PyObject *d = PyTuple_GET_ITEM(descrs, i);
            if (Py_TYPE(d)->tp_descr_set(d, obj, vals[i]) < 0)
                goto fail;
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef functions[] = {
    {"sql_literal_row", (PyCFunction)(void (*)(void))sql_literal_row, METH_FASTCALL,
     "sql_literal_row(values, literal) -> '(v1,v2,...)' escaped as PyMySQL binds parameters"},
    {"build_events", (PyCFunction)(void (*)(void))build_events, METH_FASTCALL,
     "build_events(cls, descriptors, template, rows, places) -> instances set slot by slot"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "otter_mysql._rowdecode",
    "Compiled rows-event decoder (see otter_mysql.rowops) and SQL literals (see otter_mysql.dialect).", -1,
    functions, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__rowdecode(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL)
        return NULL;
    if (PyType_Ready(&DecoderType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Truncated = PyErr_NewException("otter_mysql._rowdecode.TruncatedRow", PyExc_ValueError, NULL);
    if (Truncated == NULL || PyModule_AddObjectRef(m, "TruncatedRow", Truncated) < 0 ||
        PyModule_AddObjectRef(m, "Decoder", (PyObject *)&DecoderType) < 0 ||
        PyModule_AddIntConstant(m, "OP_INT", OP_INT) < 0 || PyModule_AddIntConstant(m, "OP_UINT", OP_UINT) < 0 ||
        PyModule_AddIntConstant(m, "OP_FLOAT", OP_FLOAT) < 0 ||
        PyModule_AddIntConstant(m, "OP_DOUBLE", OP_DOUBLE) < 0 ||
        PyModule_AddIntConstant(m, "OP_YEAR", OP_YEAR) < 0 ||
        PyModule_AddIntConstant(m, "OP_BE_CALL", OP_BE_CALL) < 0 ||
        PyModule_AddIntConstant(m, "OP_LE_CALL", OP_LE_CALL) < 0 ||
        PyModule_AddIntConstant(m, "OP_LE_SCALL", OP_LE_SCALL) < 0 ||
        PyModule_AddIntConstant(m, "OP_ENUM", OP_ENUM) < 0 ||
        PyModule_AddIntConstant(m, "OP_BYTES", OP_BYTES) < 0 ||
        PyModule_AddIntConstant(m, "OP_UTF8", OP_UTF8) < 0 ||
        PyModule_AddIntConstant(m, "OP_BYTES_CALL", OP_BYTES_CALL) < 0 ||
        PyModule_AddIntConstant(m, "OP_DATE", OP_DATE) < 0 ||
        PyModule_AddIntConstant(m, "OP_DATETIME2", OP_DATETIME2) < 0 ||
        PyModule_AddIntConstant(m, "OP_TIMESTAMP2", OP_TIMESTAMP2) < 0 ||
        PyModule_AddIntConstant(m, "OP_TIME2", OP_TIME2) < 0 ||
        PyModule_AddIntConstant(m, "OP_DECIMAL", OP_DECIMAL) < 0) {
        Py_XDECREF(m);
        return NULL;
    }
    return m;
}
