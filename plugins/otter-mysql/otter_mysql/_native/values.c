/* One value of a row image, and one row image (NULL bitmap + values): see native.h. */
#include "native.h"
#include <datetime.h>

static const int FRAC_MULT[4] = {1, 10000, 100, 1};
static const int DIG2BYTES[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
PyObject *otter_truncated;

int
otter_values_init(void)
{
    PyDateTime_IMPORT;
    return PyDateTimeAPI == NULL ? -1 : 0;
}

static int
truncated(Py_ssize_t p, Py_ssize_t need, Py_ssize_t end)
{
    PyErr_Format(otter_truncated, "row image truncated: %zd bytes needed at offset %zd of %zd", need, p, end);
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
        for (int i = ndig - 1; i >= 0; i--, v /= 10)  /* zero-padded to ndig digits */
            digits[nd + i] = (char)('0' + v % 10);
        if (v) { /* corrupt: more digits than the group holds */
            PyErr_SetString(PyExc_ValueError, "corrupt DECIMAL group");
            return NULL;
        }
        nd += ndig;
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

/* One value of `op` at *pp (the start a span recorded); a new reference or NULL with an exception. */
PyObject *
otter_read_value(Op *op, const unsigned char *d, Py_ssize_t *pp, Py_ssize_t end)
{
    return read_value(op, d, pp, end);
}

/* Step over one non-NULL value; 0 or -1 (truncated). */
static int
skip_value(Op *op, const unsigned char *d, Py_ssize_t *pp, Py_ssize_t end)
{
    Py_ssize_t p = *pp, n = op->size;
    if (p + n > end)
        return truncated(p, n, end);
    if (op->op >= OP_BYTES && op->op <= OP_BYTES_CALL) {
        Py_ssize_t len = (Py_ssize_t)le_uint(d + p, n);
        p += n;
        if (len < 0 || p + len > end)
            return truncated(p, len, end);
        *pp = p + len;
    }
    else {
        *pp = p + n;
    }
    return 0;
}

/* Decode one row image at *pp into vals[column], or only step over it when vals is NULL; when spans is
   not NULL, spans[2 * column] and spans[2 * column + 1] get the start and end of each present column's
   bytes (start -1: NULL). 0 or -1 with an exception set. */
int
otter_read_image(Op *ops, Py_ssize_t nops, const unsigned char *d, Py_ssize_t *pp, Py_ssize_t end, PyObject **vals,
                 Py_ssize_t *spans)
{
    Py_ssize_t width = (nops + 7) / 8;
    if (*pp + width > end)
        return truncated(*pp, width, end);
    const unsigned char *nulls = d + *pp;
    *pp += width;
    for (Py_ssize_t i = 0; i < nops; i++) {
        Op *op = &ops[i];
        Py_ssize_t start = *pp;
        int null = (nulls[i >> 3] >> (i & 7)) & 1;
        if (vals == NULL) {
            if (!null && skip_value(op, d, pp, end) < 0)
                return -1;
        }
        else {
            PyObject *v;
            if (null) {
                v = Py_None;
                Py_INCREF(v);
            }
            else if ((v = read_value(op, d, pp, end)) == NULL) {
                return -1;
            }
            Py_XSETREF(vals[op->column], v);
        }
        if (spans != NULL) {
            spans[2 * op->column] = null ? -1 : start;
            spans[2 * op->column + 1] = null ? -1 : *pp;
        }
    }
    return 0;
}
