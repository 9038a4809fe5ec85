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
        if (otter_read_image(self->ops[0], self->nops[0], d, &p, end, vals) < 0)
            goto fail;
        if (self->update) {
            if (otter_read_image(self->ops[1], self->nops[1], d, &p, end, after) < 0)
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
