/* EventData without its generated __init__ (otter_mysql.handover._native_builder). */
#include "native.h"

/* build_events(cls, descriptors, template, rows, places) -> [cls instances]
   Every instance starts from ``template`` (one value per field, in the order of ``descriptors``, the
   member descriptors of cls's slots) and gets each row's items at the field indexes ``places``; values
   are set through the descriptors, as attrs' own __init__ does with object.__setattr__. */
PyObject *
otter_build_events(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
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
