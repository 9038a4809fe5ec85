/* SQL literals of a row, escaped exactly as PyMySQL binds parameters (otter_mysql.dialect). */
#include "native.h"
#include <datetime.h>

PyObject *otter_decimal_type;
static PyObject *format_f;

int
otter_literals_init(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL)
        return -1;
    PyObject *decimal = PyImport_ImportModule("decimal");
    if (decimal == NULL)
        return -1;
    otter_decimal_type = PyObject_GetAttrString(decimal, "Decimal");
    Py_DECREF(decimal);
    format_f = PyUnicode_InternFromString("f");
    return otter_decimal_type == NULL || format_f == NULL ? -1 : 0;
}

/* format(v, 'f') of a finite Decimal; NULL without an exception for NaN/Infinity (the Python literal
   function then raises the DataError). str(v) is the same text when it is plain digits (no exponent:
   the usual DECIMAL column value) and costs a third of format(). */
PyObject *
otter_lit_decimal(PyObject *v)
{
    PyObject *plain = PyObject_Str(v);
    if (plain == NULL)
        return NULL;
    Py_ssize_t len = PyUnicode_GET_LENGTH(plain);
    int kind = PyUnicode_KIND(plain);
    const void *data = PyUnicode_DATA(plain);
    int digits = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch >= '0' && ch <= '9')
            digits = 1;
        else if (ch != '.' && ch != '-') {
            digits = 0;
            break;
        }
    }
    if (digits)
        return plain;
    Py_DECREF(plain);
    PyObject *s = PyObject_Format(v, format_f);
    if (s == NULL)
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    Py_UCS4 last = n ? PyUnicode_READ_CHAR(s, n - 1) : 0;
    if (last < '0' || last > '9') {  /* NaN, sNaN, Infinity */
        Py_DECREF(s);
        return NULL;
    }
    return s;
}

const char otter_escape[128] = {
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
        extra += ch < 128 && otter_escape[ch];
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
        if (ch < 128 && otter_escape[ch]) {
            PyUnicode_WRITE(okind, odata, j++, '\\');
            PyUnicode_WRITE(okind, odata, j++, (Py_UCS4)otter_escape[ch]);
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

/* The quoted literal of an exact datetime (isoformat(" ") of the wall time: an aware value keeps it) or
   date into ``text`` (48 bytes); its length, or -1 for other types. */
static char *
digits(char *o, int v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        o[i] = (char)('0' + v % 10);
    return o + width;
}

int
otter_temporal_literal(PyObject *v, char *text)
{
    char *o = text;
    int datetime = PyDateTime_CheckExact(v);
    if (!datetime && !PyDate_CheckExact(v))
        return -1;
    *o++ = '\'';
    o = digits(o, PyDateTime_GET_YEAR(v), 4);
    *o++ = '-';
    o = digits(o, PyDateTime_GET_MONTH(v), 2);
    *o++ = '-';
    o = digits(o, PyDateTime_GET_DAY(v), 2);
    if (datetime) {
        int us = PyDateTime_DATE_GET_MICROSECOND(v);
        *o++ = ' ';
        o = digits(o, PyDateTime_DATE_GET_HOUR(v), 2);
        *o++ = ':';
        o = digits(o, PyDateTime_DATE_GET_MINUTE(v), 2);
        *o++ = ':';
        o = digits(o, PyDateTime_DATE_GET_SECOND(v), 2);
        if (us) {
            *o++ = '.';
            o = digits(o, us, 6);
        }
    }
    *o++ = '\'';
    return (int)(o - text);
}

PyObject *
otter_lit_value(PyObject *v, PyObject *fallback)
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
    int len = otter_temporal_literal(v, text);
    if (len >= 0)
        return PyUnicode_FromStringAndSize(text, len);
    if (Py_TYPE(v) == (PyTypeObject *)otter_decimal_type) {
        PyObject *text = otter_lit_decimal(v);
        if (text != NULL || PyErr_Occurred())
            return text;
    }
    PyObject *s = PyObject_CallOneArg(fallback, v);
    if (s != NULL && !PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "the literal function returned %.80s, not str", Py_TYPE(s)->tp_name);
        Py_CLEAR(s);
    }
    return s;
}

/* otter_mysql.dialect.literal, looked up once: the default renderer of what is not handled here. */
PyObject *
otter_default_literal(void)
{
    static PyObject *literal;
    if (literal == NULL) {
        PyObject *dialect = PyImport_ImportModule("otter_mysql.dialect");
        if (dialect == NULL)
            return NULL;
        literal = PyObject_GetAttrString(dialect, "literal");
        Py_DECREF(dialect);
    }
    return literal;
}

/* sql_literal_row(values[, literal]) -> "(v1,v2,...)"; ``literal`` (default: otter_mysql.dialect.literal)
   renders what is not handled here. Called without it from the loader: no Python closure per row. */
PyObject *
otter_sql_literal_row(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 1 && nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "sql_literal_row(values[, literal])");
        return NULL;
    }
    PyObject *fallback = nargs == 2 ? args[1] : otter_default_literal();
    if (fallback == NULL)
        return NULL;
    PyObject *seq = PySequence_Fast(args[0], "values must be iterable");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *parts = PyList_New(n), *joined = NULL, *out = NULL;
    if (parts == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *lit = otter_lit_value(items[i], fallback);
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

