/* A chunk's whole multi-row statement in one call (otter_mysql.loader.MySQLLoader._send_group): each
   event's values rendered as otter_sql_literal_row renders them, joined between the statement's head and
   tail, with the loader's chunking rules (rows, characters, rows too big to share a statement), written
   straight into one UTF-8 buffer: no string per value, and no encoding of the whole statement after. */
#include "native.h"

enum { ROW_VALUES = 0, ONE_KEY = 1, KEY_ROW = 2 };

/* The statement being built: UTF-8 bytes, and its length in characters (the loader's limits count
   characters, as its Python loop does). */
typedef struct {
    char *p;
    Py_ssize_t len, cap, chars;
} Buf;

static char *
reserve(Buf *b, Py_ssize_t n)
{
    if (b->len + n > b->cap) {
        Py_ssize_t cap = b->cap * 2 > b->len + n ? b->cap * 2 : b->len + n + 4096;
        char *p = PyMem_Realloc(b->p, cap);
        if (p == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

static int
put(Buf *b, const char *s, Py_ssize_t n, Py_ssize_t chars)
{
    char *o = reserve(b, n);
    if (o == NULL)
        return -1;
    memcpy(o, s, n);
    b->len += n;
    b->chars += chars;
    return 0;
}

/* Append text as UTF-8 (lone surrogates as their byte: PyMySQL encodes statements with surrogateescape),
   quoted and backslash-escaped when ``quote``. */
static int
put_text(Buf *b, PyObject *s, int quote)
{
    PyObject *encoded = NULL;
    const char *d;
    Py_ssize_t n, chars = PyUnicode_GET_LENGTH(s), extra = 0;
    if (PyUnicode_IS_ASCII(s)) {
        d = (const char *)PyUnicode_1BYTE_DATA(s);
        n = chars;
    }
    else {
        if ((encoded = PyUnicode_AsEncodedString(s, "utf-8", "surrogateescape")) == NULL)
            return -1;
        d = PyBytes_AS_STRING(encoded);
        n = PyBytes_GET_SIZE(encoded);
    }
    if (!quote) {
        int r = put(b, d, n, chars);
        Py_XDECREF(encoded);
        return r;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        extra += (unsigned char)d[i] < 128 && otter_escape[(unsigned char)d[i]];
    char *o = reserve(b, n + extra + 2);
    if (o == NULL) {
        Py_XDECREF(encoded);
        return -1;
    }
    *o++ = '\'';
    if (!extra) {
        memcpy(o, d, n);
        o += n;
    }
    else {
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)d[i];
            if (ch < 128 && otter_escape[ch]) {
                *o++ = '\\';
                *o++ = otter_escape[ch];
            }
            else {
                *o++ = (char)ch;
            }
        }
    }
    *o = '\'';
    b->len += n + extra + 2;
    b->chars += chars + extra + 2;
    Py_XDECREF(encoded);
    return 0;
}

/* Append the literal of one value, as otter_lit_value renders it. */
static int
put_value(Buf *b, PyObject *v, PyObject *fallback)
{
    char text[48];
    if (v == Py_None)
        return put(b, "NULL", 4, 4);
    if (PyUnicode_CheckExact(v))
        return put_text(b, v, 1);
    if (PyLong_CheckExact(v)) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (!overflow) {
            /* the digits of |x| from the end of text, then the sign */
            unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
            char *end = text + sizeof(text), *o = end;
            do {
                *--o = (char)('0' + u % 10);
                u /= 10;
            } while (u);
            if (x < 0)
                *--o = '-';
            return put(b, o, end - o, end - o);
        }
    }
    else if (PyBool_Check(v)) {
        return put(b, v == Py_True ? "1" : "0", 1, 1);
    }
    else if (PyBytes_CheckExact(v)) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *d = (const unsigned char *)PyBytes_AS_STRING(v);
        Py_ssize_t n = PyBytes_GET_SIZE(v);
        char *o = reserve(b, 2 * n + 3);
        if (o == NULL)
            return -1;
        *o++ = 'X';
        *o++ = '\'';
        for (Py_ssize_t i = 0; i < n; i++) {
            *o++ = hex[d[i] >> 4];
            *o++ = hex[d[i] & 15];
        }
        *o = '\'';
        b->len += 2 * n + 3;
        b->chars += 2 * n + 3;
        return 0;
    }
    else {
        int len = otter_temporal_literal(v, text);
        if (len >= 0)
            return put(b, text, len, len);
    }
    PyObject *lit = NULL;
    if (Py_TYPE(v) == (PyTypeObject *)otter_decimal_type) {
        lit = otter_lit_decimal(v);
        if (lit == NULL && PyErr_Occurred())
            return -1;
    }
    if (lit == NULL)  /* an int beyond 64 bits, or what only the Python renderer knows */
        lit = PyLong_CheckExact(v) ? PyObject_Str(v) : otter_lit_value(v, fallback);
    if (lit == NULL)
        return -1;
    int r = put_text(b, lit, 0);
    Py_DECREF(lit);
    return r;
}

static PyObject *
dict_attr(PyObject *ev, PyObject *name)
{
    PyObject *d = PyObject_GetAttr(ev, name);
    if (d != NULL && !PyDict_Check(d)) {
        PyErr_Format(PyExc_TypeError, "event.%U is a %.80s, not a dict", name, Py_TYPE(d)->tp_name);
        Py_CLEAR(d);
    }
    return d;
}

/* Append the literal of one event. ROW_VALUES: "(k…,c…)" of keys then columns, or of the values at
   ``picks`` (npicks >= 0) among them; ONE_KEY: the only key value; KEY_ROW: "(k…)". */
static int
put_row(Buf *b, PyObject *ev, int mode, const Py_ssize_t *picks, Py_ssize_t npicks, PyObject *fallback)
{
    PyObject *stack[64], **vals = stack, *columns = NULL, *k, *v;
    Py_ssize_t nvals = 0, pos = 0;
    int r = -1;
    PyObject *keys = dict_attr(ev, otter_names.keys);
    if (keys == NULL)
        return -1;
    if (mode == ROW_VALUES && (columns = dict_attr(ev, otter_names.columns)) == NULL)
        goto done;
    Py_ssize_t total = PyDict_GET_SIZE(keys) + (columns ? PyDict_GET_SIZE(columns) : 0);
    if (total > 64 && (vals = PyMem_New(PyObject *, total)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    while (nvals < total && PyDict_Next(keys, &pos, &k, &v))
        vals[nvals++] = v;
    pos = 0;
    while (columns && nvals < total && PyDict_Next(columns, &pos, &k, &v))
        vals[nvals++] = v;
    for (Py_ssize_t j = 0; j < nvals; j++)  /* a renderer in Python could change the dicts */
        Py_INCREF(vals[j]);
    if (mode == ONE_KEY) {
        if (nvals != 1)
            PyErr_Format(PyExc_ValueError, "the event has %zd key values, not 1", nvals);
        else
            r = put_value(b, vals[0], fallback);
        goto release;
    }
    Py_ssize_t count = npicks >= 0 ? npicks : nvals;
    if (put(b, "(", 1, 1) < 0)
        goto release;
    for (Py_ssize_t j = 0; j < count; j++) {
        Py_ssize_t at = npicks >= 0 ? picks[j] : j;
        if (at >= nvals) {
            PyErr_Format(PyExc_IndexError, "value %zd of a row of %zd values", at, nvals);
            goto release;
        }
        if ((j && put(b, ",", 1, 1) < 0) || put_value(b, vals[at], fallback) < 0)
            goto release;
    }
    r = put(b, ")", 1, 1);
release:
    for (Py_ssize_t j = 0; j < nvals; j++)
        Py_DECREF(vals[j]);
done:
    if (vals != stack)
        PyMem_Free(vals);
    Py_XDECREF(columns);
    Py_DECREF(keys);
    return r;
}

/* sql_values(events, start, mode, picks, max_rows, max_chars, big_bytes, head, tail) -> (sql, end)
   ``sql`` is head + the literals of events[start:end] joined by "," + tail, as UTF-8 bytes (what PyMySQL
   sends for a utf8/utf8mb4 connection), where ``end`` stops before ``max_rows`` rows, before the statement
   would pass ``max_chars`` characters (counted as the loader counts them: head, tail and one comma per row;
   the first row always goes in), and before an event whose ``size`` is above ``big_bytes`` (-1: no such
   check). That event alone gives (b"", start). */
PyObject *
otter_sql_values(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 9 || !PyUnicode_Check(args[7]) || !PyUnicode_Check(args[8]) ||
        (args[3] != Py_None && !PyTuple_Check(args[3]))) {
        PyErr_SetString(PyExc_TypeError, "sql_values(events, start, mode, picks: tuple | None, max_rows, "
                                         "max_chars, big_bytes, head: str, tail: str)");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[1]), max_rows = PyLong_AsSsize_t(args[4]);
    Py_ssize_t max_chars = PyLong_AsSsize_t(args[5]), big = PyLong_AsSsize_t(args[6]);
    long mode = PyLong_AsLong(args[2]);
    if (PyErr_Occurred())
        return NULL;
    if (mode < ROW_VALUES || mode > KEY_ROW || start < 0) {
        PyErr_SetString(PyExc_ValueError, "sql_values: mode is 0, 1 or 2 and start is not negative");
        return NULL;
    }
    PyObject *fallback = otter_default_literal();
    if (fallback == NULL)
        return NULL;
    Py_ssize_t npicks = args[3] == Py_None ? -1 : PyTuple_GET_SIZE(args[3]), *picks = NULL;
    if (npicks > 0 && (picks = PyMem_New(Py_ssize_t, npicks)) == NULL)
        return PyErr_NoMemory();
    for (Py_ssize_t j = 0; j < npicks; j++) {
        picks[j] = PyLong_AsSsize_t(PyTuple_GET_ITEM(args[3], j));
        if (picks[j] < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_IndexError, "negative value index in picks");
            PyMem_Free(picks);
            return NULL;
        }
    }
    Buf b = {PyMem_Malloc(65536), 0, 65536, 0};  /* never NULL after this: reserve() reports failures */
    if (b.p == NULL) {
        PyMem_Free(picks);
        return PyErr_NoMemory();
    }
    PyObject *out = NULL, *seq = PySequence_Fast(args[0], "events must be a sequence");
    if (seq == NULL)
        goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), rows = 0, i = start;
    PyObject **events = PySequence_Fast_ITEMS(seq);
    if (put_text(&b, args[7], 0) < 0)
        goto done;
    Py_ssize_t limit = max_chars - PyUnicode_GET_LENGTH(args[8]);  /* the tail still goes in */
    for (; i < n && rows < max_rows; i++) {
        if (big >= 0) {
            PyObject *evsize = PyObject_GetAttr(events[i], otter_names.size);
            if (evsize == NULL)
                goto done;
            Py_ssize_t bytes = PyLong_AsSsize_t(evsize);
            Py_DECREF(evsize);
            if (bytes == -1 && PyErr_Occurred())
                goto done;
            if (bytes > big)
                break;
        }
        Py_ssize_t len = b.len, chars = b.chars;
        if (rows && put(&b, ",", 1, 1) < 0)
            goto done;
        if (put_row(&b, events[i], (int)mode, picks, npicks, fallback) < 0)
            goto done;
        /* the Python loop's test, size (head, tail, each row and a comma) + this row > max_chars, is this */
        if (rows && b.chars > limit) {
            b.len = len;
            b.chars = chars;
            break;
        }
        rows++;
    }
    if (rows == 0)
        out = Py_BuildValue("(y#n)", "", (Py_ssize_t)0, i);
    else if (put_text(&b, args[8], 0) == 0)
        out = Py_BuildValue("(y#n)", b.p, b.len, i);
done:
    PyMem_Free(b.p);
    PyMem_Free(picks);
    Py_XDECREF(seq);
    return out;
}
