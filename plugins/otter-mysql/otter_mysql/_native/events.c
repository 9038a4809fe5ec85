/* EventData without its generated __init__ (otter_mysql.handover._native_builder), and a whole
   transaction's raw rows events decoded and built in one call (handover.RawExpander). */
#include "native.h"
#include <structmember.h>

#define MAX_FIELDS OTTER_MAX_FIELDS

/* The slot offsets of ``descrs`` when every one is a plain writable object slot (attrs' slotted
   classes): values are then stored there directly, as the descriptor's own setter would on a new
   instance (whose slots are NULL); 0 when one is not (each value then goes through its descriptor). */
static int
slot_offsets(PyObject *descrs, Py_ssize_t *offsets)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(descrs); i++) {
        PyObject *d = PyTuple_GET_ITEM(descrs, i);
        if (Py_TYPE(d) != &PyMemberDescr_Type)
            return 0;
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type != T_OBJECT_EX || (m->flags & READONLY) || m->offset <= 0)
            return 0;
        offsets[i] = m->offset;
    }
    return 1;
}

/* Checks the descriptors and turns ``places`` into field indexes; -1 with an exception set. */
int
otter_check_layout(PyObject *descrs, Py_ssize_t ntemplate, PyObject *places, Py_ssize_t *at)
{
    Py_ssize_t nfields = PyTuple_GET_SIZE(descrs), nplaces = PyTuple_GET_SIZE(places);
    if (nfields != ntemplate || nfields > MAX_FIELDS || nplaces > nfields) {
        PyErr_SetString(PyExc_ValueError, "descriptors, template and places do not fit");
        return -1;
    }
    for (Py_ssize_t i = 0; i < nfields; i++) {
        if (Py_TYPE(PyTuple_GET_ITEM(descrs, i))->tp_descr_set == NULL) {
            PyErr_Format(PyExc_TypeError, "descriptor %zd cannot set a value", i);
            return -1;
        }
    }
    for (Py_ssize_t j = 0; j < nplaces; j++) {
        at[j] = PyLong_AsSsize_t(PyTuple_GET_ITEM(places, j));
        if (at[j] < 0 || at[j] >= nfields) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "place outside the fields");
            return -1;
        }
    }
    return 0;
}

/* Appends one instance per row of ``rows`` to ``out``: the template's values, each row's items at the
   field indexes ``at``, set through the member descriptors as attrs' own __init__ does. */
int
otter_build_into(PyTypeObject *cls, PyObject *descrs, PyObject *const *template, PyObject *rows, const Py_ssize_t *at,
           Py_ssize_t nplaces, PyObject *out)
{
    Py_ssize_t nfields = PyTuple_GET_SIZE(descrs), nrows = PyList_GET_SIZE(rows);
    PyObject *vals[MAX_FIELDS];
    Py_ssize_t offsets[MAX_FIELDS];
    int direct = slot_offsets(descrs, offsets) && cls->tp_basicsize >= (Py_ssize_t)sizeof(PyObject);
    for (Py_ssize_t r = 0; r < nrows; r++) {
        PyObject *row = PyList_GET_ITEM(rows, r);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != nplaces) {
            PyErr_Format(PyExc_ValueError, "row %zd is not a tuple of %zd items", r, nplaces);
            return -1;
        }
        memcpy(vals, template, nfields * sizeof(PyObject *));
        for (Py_ssize_t j = 0; j < nplaces; j++)
            vals[at[j]] = PyTuple_GET_ITEM(row, j);
        PyObject *obj = cls->tp_alloc(cls, 0);
        if (obj == NULL)
            return -1;
        int failed = PyList_Append(out, obj);
        Py_DECREF(obj);
        if (failed < 0)
            return -1;
        if (direct) {
            for (Py_ssize_t i = 0; i < nfields; i++) {
                if (offsets[i] + (Py_ssize_t)sizeof(PyObject *) > cls->tp_basicsize) {
                    PyErr_SetString(PyExc_ValueError, "a slot lies outside the instance");
                    return -1;
                }
                PyObject **slot = (PyObject **)((char *)obj + offsets[i]);
                Py_INCREF(vals[i]);
                Py_XSETREF(*slot, vals[i]);
            }
            continue;
        }
        for (Py_ssize_t i = 0; i < nfields; i++) {
            PyObject *d = PyTuple_GET_ITEM(descrs, i);
            if (Py_TYPE(d)->tp_descr_set(d, obj, vals[i]) < 0)
                return -1;
        }
    }
    return 0;
}

/* build_events(cls, descriptors, template, rows, places) -> [cls instances]
   Every instance starts from ``template`` (one value per field, in the order of ``descriptors``, the
   member descriptors of cls's slots) and gets each row's items at the field indexes ``places``. */
PyObject *
otter_build_events(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 5 || !PyType_Check(args[0]) || !PyTuple_Check(args[1]) || !PyTuple_Check(args[2]) ||
        !PyList_Check(args[3]) || !PyTuple_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError, "build_events(cls, descriptors, template, rows: list, places)");
        return NULL;
    }
    Py_ssize_t at[MAX_FIELDS];
    if (otter_check_layout(args[1], PyTuple_GET_SIZE(args[2]), args[4], at) < 0)
        return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    if (otter_build_into((PyTypeObject *)args[0], args[1], &PyTuple_GET_ITEM(args[2], 0), args[3], at,
                   PyTuple_GET_SIZE(args[4]), out) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

/* expand_raw(cls, descriptors, mid, tail, row_places, update_places, raw, decoders, chunks, position)
       -> tuple of cls instances, or None (the layout first: handover binds it once with functools.partial)
   A transaction's chunks ``(raw, schema, table, event type, time, (ident, kind, bitmap, bitmap2, body,
   ...))`` decoded by the compiled Decoders in ``decoders`` (keyed by the payload's first four items) and
   built as ``build_events`` builds them, template ``(schema, table, event type, *mid, time, position,
   *tail)``. None, with no exception, when the Python path must take the transaction: a chunk that is not
   raw, a shape without a compiled decoder yet, or a body that does not decode (the Python path decodes
   it again and names the table and binlog position, or rejects the row). */
PyObject *
otter_expand_raw(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 10 || !PyDict_Check(args[7]) || !PyType_Check(args[0]) || !PyTuple_Check(args[1]) ||
        !PyTuple_Check(args[2]) || !PyTuple_Check(args[3]) || !PyTuple_Check(args[4]) ||
        !PyTuple_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError, "expand_raw(cls, descriptors: tuple, mid: tuple, tail: tuple, "
                                         "row_places: tuple, update_places: tuple, raw, decoders: dict, chunks, "
                                         "position)");
        return NULL;
    }
    PyObject *decoders = args[7], *descrs = args[1], *mid = args[2], *tail = args[3], *raw_tag = args[6];
    PyTypeObject *cls = (PyTypeObject *)args[0];
    Py_ssize_t nmid = PyTuple_GET_SIZE(mid), ntail = PyTuple_GET_SIZE(tail), nfields = 5 + nmid + ntail;
    Py_ssize_t row_at[MAX_FIELDS], update_at[MAX_FIELDS];
    if (nfields > MAX_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "too many fields");
        return NULL;
    }
    if (otter_check_layout(descrs, nfields, args[4], row_at) < 0 || otter_check_layout(descrs, nfields, args[5], update_at) < 0)
        return NULL;
    /* the template: schema, table, event type (per chunk), mid, time (per chunk), position, tail */
    PyObject *template[MAX_FIELDS];
    for (Py_ssize_t i = 0; i < nmid; i++)
        template[3 + i] = PyTuple_GET_ITEM(mid, i);
    template[4 + nmid] = args[9];
    for (Py_ssize_t i = 0; i < ntail; i++)
        template[5 + nmid + i] = PyTuple_GET_ITEM(tail, i);
    PyObject *chunks = PySequence_Fast(args[8], "chunks must be a sequence");
    if (chunks == NULL)
        return NULL;
    PyObject *out = PyList_New(0), *key = NULL, *rows = NULL;
    if (out == NULL)
        goto fail;
    Py_ssize_t nchunks = PySequence_Fast_GET_SIZE(chunks);
    for (Py_ssize_t c = 0; c < nchunks; c++) {
        PyObject *chunk = PySequence_Fast_GET_ITEM(chunks, c), *raw, *decoder;
        if (!PyTuple_Check(chunk) || PyTuple_GET_SIZE(chunk) != 6)
            goto python;
        int is_raw = PyObject_RichCompareBool(PyTuple_GET_ITEM(chunk, 0), raw_tag, Py_EQ);
        if (is_raw < 0)
            goto fail;
        raw = PyTuple_GET_ITEM(chunk, 5);
        if (!is_raw || !PyTuple_Check(raw) || PyTuple_GET_SIZE(raw) < 5)
            goto python;
        if ((key = PyTuple_GetSlice(raw, 0, 4)) == NULL)
            goto fail;
        decoder = PyDict_GetItemWithError(decoders, key); /* borrowed */
        Py_CLEAR(key);
        if (decoder == NULL) {
            if (PyErr_Occurred())
                goto fail;
            goto python; /* a shape seen for the first time: the Python path makes its decoder */
        }
        if (Py_TYPE(decoder) != &otter_decoder_type)
            goto python; /* a generated Python decoder (a type only Python decodes) */
        PyObject *body = PyTuple_GET_ITEM(raw, 4);
        if (!PyBytes_Check(body))
            goto python;
        rows = otter_decode_body((Decoder *)decoder, (const unsigned char *)PyBytes_AS_STRING(body),
                                 PyBytes_GET_SIZE(body));
        if (rows == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_Exception))
                goto fail; /* KeyboardInterrupt, SystemExit: not a decoding error */
            PyErr_Clear();
            goto python; /* decoded again there, and reported with the table and position */
        }
        if (!PyList_Check(rows)) {
            PyErr_SetString(PyExc_TypeError, "a row decoder returned no list");
            goto fail;
        }
        template[0] = PyTuple_GET_ITEM(chunk, 1);
        template[1] = PyTuple_GET_ITEM(chunk, 2);
        template[2] = PyTuple_GET_ITEM(chunk, 3);
        template[3 + nmid] = PyTuple_GET_ITEM(chunk, 4);
        int update = ((Decoder *)decoder)->update;
        if (otter_build_into(cls, descrs, template, rows, update ? update_at : row_at,
                       PyTuple_GET_SIZE(update ? args[5] : args[4]), out) < 0)
            goto fail;
        Py_CLEAR(rows);
    }
    Py_DECREF(chunks);
    PyObject *events = PyList_AsTuple(out);
    Py_DECREF(out);
    return events;
python:
    Py_DECREF(chunks);
    Py_DECREF(out);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(key);
    Py_XDECREF(rows);
    Py_DECREF(chunks);
    Py_XDECREF(out);
    return NULL;
}

/* expand_raw_at(cls, descriptors, mid, tail, row_places, update_places, raw, pos_cls, pos_descriptors,
                 decoders, chunks, fields) -> as expand_raw
   expand_raw with the position given as its field values (the selector process's pipe carries them
   as a tuple): the ``pos_cls`` instance is built here through its member descriptors, as attrs' own
   __init__ would set them (otter_core.model.Position has no validator or converter), and the events
   carry it. Built in Python it was the hand-over's biggest cost per OLTP transaction after decoding. */
PyObject *
otter_expand_raw_at(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 12 || !PyType_Check(args[7]) || !PyTuple_Check(args[8]) || !PyTuple_Check(args[11]) ||
        PyTuple_GET_SIZE(args[8]) != PyTuple_GET_SIZE(args[11])) {
        PyErr_SetString(PyExc_TypeError, "expand_raw_at(cls, descriptors, mid, tail, row_places, update_places, "
                                         "raw, pos_cls, pos_descriptors: tuple, decoders, chunks, fields: tuple "
                                         "of one value per descriptor)");
        return NULL;
    }
    PyTypeObject *pos_cls = (PyTypeObject *)args[7];
    PyObject *descrs = args[8], *fields = args[11];
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(descrs); i++) {
        if (Py_TYPE(PyTuple_GET_ITEM(descrs, i))->tp_descr_set == NULL) {
            PyErr_Format(PyExc_TypeError, "position descriptor %zd cannot set a value", i);
            return NULL;
        }
    }
    PyObject *position = pos_cls->tp_alloc(pos_cls, 0);
    if (position == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(descrs); i++) {
        PyObject *d = PyTuple_GET_ITEM(descrs, i);
        if (Py_TYPE(d)->tp_descr_set(d, position, PyTuple_GET_ITEM(fields, i)) < 0) {
            Py_DECREF(position);
            return NULL;
        }
    }
    PyObject *const inner[10] = {args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[9], args[10],
                                 position};
    PyObject *events = otter_expand_raw(module, inner, 10);
    Py_DECREF(position);
    return events;
}
