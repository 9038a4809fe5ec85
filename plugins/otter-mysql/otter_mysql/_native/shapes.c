/* The MySQL loader's statement grouping (otter_mysql.load_plan.StatementPlanning._plan) in one call. */
#include "native.h"

/* The names of ``a``'s keys, then ``b``'s (b may be NULL), as a tuple. */
static PyObject *
names_of(PyObject *a, PyObject *b)
{
    if (!PyDict_Check(a) || (b != NULL && !PyDict_Check(b))) {
        PyErr_SetString(PyExc_TypeError, "event keys and columns must be dicts");
        return NULL;
    }
    Py_ssize_t n = PyDict_GET_SIZE(a) + (b ? PyDict_GET_SIZE(b) : 0), i = 0, pos = 0;
    PyObject *out = PyTuple_New(n), *k, *v;
    if (out == NULL)
        return NULL;
    while (i < n && PyDict_Next(a, &pos, &k, &v))
        PyTuple_SET_ITEM(out, i++, Py_NewRef(k));
    pos = 0;
    while (b && i < n && PyDict_Next(b, &pos, &k, &v))
        PyTuple_SET_ITEM(out, i++, Py_NewRef(k));
    return out;
}

/* Whether ``a``'s keys, then ``b``'s, are the very objects of ``names``, in order (a rows event's events
   share their column names: the previous event's names tuple is then used again). */
static int
same_names(PyObject *a, PyObject *b, PyObject *names)
{
    if (names == NULL || !PyDict_Check(a) || (b != NULL && !PyDict_Check(b)) ||
        PyTuple_GET_SIZE(names) != PyDict_GET_SIZE(a) + (b ? PyDict_GET_SIZE(b) : 0))
        return 0;
    Py_ssize_t i = 0, pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(a, &pos, &k, &v))
        if (k != PyTuple_GET_ITEM(names, i++))
            return 0;
    pos = 0;
    while (b && PyDict_Next(b, &pos, &k, &v))
        if (k != PyTuple_GET_ITEM(names, i++))
            return 0;
    return 1;
}

/* The upsert shape of an INSERT or UPDATE, as _plan builds it:
   (schema, table, len(keys), (*keys, *columns), updated or None, insert_only, update_join). */
static PyObject *
upsert_shape(PyObject *ev, PyObject *schema, PyObject *table, PyObject *keys, PyObject *names, int is_update,
             int field_mode, int join, Py_ssize_t big, PyObject *insert_only_hint)
{
    PyObject *upd = NULL, *hints = NULL, *nkeys = NULL, *shape = NULL;
    int insert_only, joined = 0;
    upd = field_mode && is_update ? PyObject_GetAttr(ev, otter_names.updated) : Py_NewRef(Py_None);
    if (upd == NULL || (hints = PyObject_GetAttr(ev, otter_names.hints)) == NULL)
        goto done;
    if ((insert_only = PySequence_Contains(hints, insert_only_hint)) < 0)
        goto done;
    if (join && !insert_only && (joined = PyObject_IsTrue(upd)) > 0) {
        PyObject *old_keys = PyObject_GetAttr(ev, otter_names.old_keys), *size = NULL;
        if (old_keys == NULL)
            goto done;
        joined = old_keys == Py_None;
        Py_DECREF(old_keys);
        if (joined) {
            if ((size = PyObject_GetAttr(ev, otter_names.size)) == NULL)
                goto done;
            Py_ssize_t bytes = PyLong_AsSsize_t(size);
            Py_DECREF(size);
            if (bytes == -1 && PyErr_Occurred())
                goto done;
            joined = bytes <= big;
        }
    }
    if (joined < 0 || (nkeys = PyLong_FromSsize_t(PyDict_GET_SIZE(keys))) == NULL)
        goto done;
    shape = PyTuple_Pack(7, schema, table, nkeys, names, upd, insert_only ? Py_True : Py_False,
                         joined ? Py_True : Py_False);
done:
    Py_XDECREF(upd);
    Py_XDECREF(hints);
    Py_XDECREF(nkeys);
    return shape;
}

/* statement_shapes(events, field_mode, join, big_bytes, insert_only_hint, DELETE, INSERT, UPDATE)
   -> [(is_delete, shape, [events])] in first-seen order, the shapes as load_plan._plan makes them.
   ValueError for an event of another kind (the caller's Python loop names it). */
PyObject *
otter_statement_shapes(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "statement_shapes(events, field_mode, join, big_bytes, "
                                         "insert_only_hint, DELETE, INSERT, UPDATE)");
        return NULL;
    }
    int field_mode = PyObject_IsTrue(args[1]), join = PyObject_IsTrue(args[2]);
    Py_ssize_t big = PyLong_AsSsize_t(args[3]);
    PyObject *hint = args[4], *delete = args[5], *insert = args[6], *update = args[7];
    if (field_mode < 0 || join < 0 || (big == -1 && PyErr_Occurred()))
        return NULL;
    PyObject *seq = PySequence_Fast(args[0], "events must be a sequence");
    if (seq == NULL)
        return NULL;
    /* the previous event's shape, names and group: the events of a rows event mostly share them */
    PyObject *last_shape = NULL, *last_names = NULL, *last_members = NULL;
    PyObject *groups = PyDict_New(), *order = PyList_New(0);
    if (groups == NULL || order == NULL)
        goto fail;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **events = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *ev = events[i], *kind = NULL, *schema = NULL, *table = NULL, *keys = NULL, *shape = NULL;
        PyObject *columns = NULL, *names = NULL, *members = NULL;
        int failed = 1, is_delete = 0;
        if ((kind = PyObject_GetAttr(ev, otter_names.event_type)) == NULL || (schema = PyObject_GetAttr(ev, otter_names.schema)) == NULL
            || (table = PyObject_GetAttr(ev, otter_names.table)) == NULL || (keys = PyObject_GetAttr(ev, otter_names.keys)) == NULL)
            goto next;
        if (kind != delete && kind != insert && kind != update) {
            PyErr_Format(PyExc_ValueError, "event %zd is neither an INSERT, an UPDATE nor a DELETE", i);
            goto next;
        }
        if (kind != delete && (columns = PyObject_GetAttr(ev, otter_names.columns)) == NULL)
            goto next;
        names = same_names(keys, columns, last_names) ? Py_NewRef(last_names) : names_of(keys, columns);
        if (names == NULL)
            goto next;
        if (kind == delete) {
            shape = PyTuple_Pack(3, schema, table, names);
            is_delete = 1;
        }
        else {
            shape = upsert_shape(ev, schema, table, keys, names, kind == update, field_mode, join, big, hint);
        }
        if (shape == NULL)
            goto next;
        if (last_shape != NULL) {
            int same = PyObject_RichCompareBool(shape, last_shape, Py_EQ);
            if (same < 0)
                goto next;
            if (same) {
                failed = PyList_Append(last_members, ev) < 0;
                goto next;
            }
        }
        /* the dict is keyed by (is_delete, shape): deletes and upserts never share a group */
        PyObject *slot = PyTuple_Pack(2, is_delete ? Py_True : Py_False, shape);
        if (slot == NULL)
            goto next;
        members = PyDict_GetItemWithError(groups, slot);
        if (members == NULL && !PyErr_Occurred()) {
            PyObject *entry = NULL;
            if ((members = PyList_New(0)) != NULL &&
                (entry = PyTuple_Pack(3, is_delete ? Py_True : Py_False, shape, members)) != NULL &&
                PyDict_SetItem(groups, slot, members) == 0 && PyList_Append(order, entry) == 0)
                Py_DECREF(members);  /* the dict and the entry hold it */
            else
                Py_CLEAR(members);
            Py_XDECREF(entry);
        }
        Py_DECREF(slot);
        failed = members == NULL || PyList_Append(members, ev) < 0;
        if (!failed) {
            Py_XSETREF(last_shape, Py_NewRef(shape));
            Py_XSETREF(last_names, Py_NewRef(names));
            last_members = members;  /* the dict holds it */
        }
next:
        Py_XDECREF(kind);
        Py_XDECREF(schema);
        Py_XDECREF(table);
        Py_XDECREF(keys);
        Py_XDECREF(columns);
        Py_XDECREF(names);
        Py_XDECREF(shape);
        if (failed)
            goto fail;
    }
    Py_XDECREF(last_shape);
    Py_XDECREF(last_names);
    Py_DECREF(groups);
    Py_DECREF(seq);
    return order;
fail:
    Py_XDECREF(last_shape);
    Py_XDECREF(last_names);
    Py_XDECREF(groups);
    Py_XDECREF(order);
    Py_DECREF(seq);
    return NULL;
}
