/* The Decoder type: a rows-event body -> the rows otter_mysql.rowcodec returns (see native.h). */
#include "native.h"

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

/* Same bytes in both images (both NULL, or equal spans)? A value's binlog encoding is canonical, so
   this is the value comparison, without building the before image's values. */
static int
same_bytes(const unsigned char *d, const Py_ssize_t *b, const Py_ssize_t *a)
{
    if (b[0] < 0 || a[0] < 0)
        return b[0] == a[0];
    return b[1] - b[0] == a[1] - a[0] && memcmp(d + b[0], d + a[0], (size_t)(b[1] - b[0])) == 0;
}

/* The before image's key values (only built when the key changed). */
static PyObject *
before_keys(Decoder *self, const unsigned char *d, Py_ssize_t end, const Py_ssize_t *spans)
{
    PyObject *old = PyDict_New();
    for (Py_ssize_t i = 0; old != NULL && i < self->nkeys; i++) {
        Py_ssize_t c = self->keys[i], p = spans[2 * c];
        PyObject *v = p < 0 ? Py_NewRef(Py_None) : otter_read_value(self->before_op[c], d, &p, end);
        if (v == NULL || PyDict_SetItem(old, PyTuple_GET_ITEM(self->key_names, i), v) < 0)
            Py_CLEAR(old);
        Py_XDECREF(v);
    }
    return old;
}

static PyObject *
decode_update(Decoder *self, const unsigned char *d, Py_ssize_t end, const Py_ssize_t *bspans,
              const Py_ssize_t *aspans, PyObject **a, Py_ssize_t size)
{
    PyObject *keys = NULL, *cols = NULL, *old = NULL, *changed = NULL, *updated = NULL;
    int key_changed = 0;
    for (Py_ssize_t i = 0; i < self->nkeys && !key_changed; i++) {
        Py_ssize_t c = self->keys[i];
        key_changed = !same_bytes(d, bspans + 2 * c, aspans + 2 * c);
    }
    if ((changed = PyList_New(0)) == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < self->ndata; i++) {
        Py_ssize_t c = self->data[i];
        if (!same_bytes(d, bspans + 2 * c, aspans + 2 * c) &&
            PyList_Append(changed, PyTuple_GET_ITEM(self->data_names, i)) < 0)
            goto fail;
    }
    if ((updated = PyFrozenSet_New(changed)) == NULL)
        goto fail;
    Py_CLEAR(changed);
    if ((keys = make_dict(self->key_names, self->keys, self->nkeys, a)) == NULL ||
        (cols = make_dict(self->data_names, self->data, self->ndata, a)) == NULL)
        goto fail;
    if (key_changed) {
        if ((old = before_keys(self, d, end, bspans)) == NULL)
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

/* The rows of one rows-event body (``Decoder.__call__``; events.c calls it directly, without building
   an argument tuple or a buffer per rows event). */
PyObject *
otter_decode_body(Decoder *self, const unsigned char *d, Py_ssize_t end)
{
    Py_ssize_t p = 0;
    PyObject *out = PyList_New(0);
    /* small tables (sysbench's: 4 columns) on the stack: no allocation per rows event */
    PyObject *vals_here[65] = {NULL};
    Py_ssize_t spans_here[4 * 64 + 1];
    int small = self->ncolumns <= 64;
    PyObject **vals = small ? vals_here : PyMem_Calloc(self->ncolumns + 1, sizeof(PyObject *));
    Py_ssize_t *spans = !self->update ? NULL
                        : small        ? spans_here
                                       : PyMem_Calloc(4 * self->ncolumns + 1, sizeof(Py_ssize_t));
    if (small && spans != NULL)
        memset(spans, 0, (4 * self->ncolumns + 1) * sizeof(Py_ssize_t)); /* as PyMem_Calloc gives them */
    if (out == NULL || vals == NULL || (self->update && spans == NULL)) {
        if (!small) {
            PyMem_Free(vals);
            PyMem_Free(spans);
        }
        Py_XDECREF(out);
        return out == NULL ? NULL : PyErr_NoMemory();
    }
    while (p < end) {
        Py_ssize_t start = p;
        PyObject *row;
        if (self->update) {  /* the before image: only where its bytes lie */
            Py_ssize_t *bspans = spans, *aspans = spans + 2 * self->ncolumns;
            if (otter_read_image(self->ops[0], self->nops[0], d, &p, end, NULL, bspans) < 0 ||
                otter_read_image(self->ops[1], self->nops[1], d, &p, end, vals, aspans) < 0)
                goto fail;
            row = decode_update(self, d, end, bspans, aspans, vals, p - start);
        }
        else if (otter_read_image(self->ops[0], self->nops[0], d, &p, end, vals, NULL) < 0) {
            goto fail;
        }
        else {  /* WRITE/DELETE: the one image read above */
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
    for (Py_ssize_t i = 0; i < self->ncolumns; i++)
        Py_XDECREF(vals[i]);
    if (!small) {
        PyMem_Free(vals);
        PyMem_Free(spans);
    }
    return out;
fail:
    for (Py_ssize_t i = 0; i < self->ncolumns; i++)
        Py_XDECREF(vals[i]);
    if (!small) {
        PyMem_Free(vals);
        PyMem_Free(spans);
    }
    Py_DECREF(out);
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
    PyObject *out = otter_decode_body(self, buf.buf, buf.len);
    PyBuffer_Release(&buf);
    return out;
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
    PyMem_Free(self->before_op);
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
    if (self->update) {  /* every key and data column must be in both images (rowcodec checks it) */
        if ((self->before_op = PyMem_Calloc(ncolumns, sizeof(Op *))) == NULL) {
            Py_DECREF(self);
            return PyErr_NoMemory();
        }
        for (Py_ssize_t i = 0; i < self->nops[0]; i++)
            self->before_op[self->ops[0][i].column] = &self->ops[0][i];
        for (int image = 0; image < 2; image++) {
            char *present = PyMem_Calloc(ncolumns, 1);
            if (present == NULL) {
                Py_DECREF(self);
                return PyErr_NoMemory();
            }
            for (Py_ssize_t i = 0; i < self->nops[image]; i++)
                present[self->ops[image][i].column] = 1;
            int missing = 0;
            for (Py_ssize_t i = 0; i < self->nkeys; i++)
                missing |= !present[self->keys[i]];
            for (Py_ssize_t i = 0; i < self->ndata; i++)
                missing |= !present[self->data[i]];
            PyMem_Free(present);
            if (missing) {
                PyErr_SetString(PyExc_ValueError, "an UPDATE image lacks a key or data column");
                Py_DECREF(self);
                return NULL;
            }
        }
    }
    return (PyObject *)self;
}

PyTypeObject otter_decoder_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "otter_mysql._rowdecode.Decoder",
    .tp_doc = "Decoder(ncolumns, before, after, keys, key_names, data, data_names): rows-event body -> rows",
    .tp_basicsize = sizeof(Decoder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Decoder_new,
    .tp_dealloc = (destructor)Decoder_dealloc,
    .tp_call = (ternaryfunc)Decoder_call,
};
