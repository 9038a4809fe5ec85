/* The packed run's writer pieces (a growing byte buffer, the names tables) shared by handover.c, which
 * packs the plain transactions of the selector process's hand-over, and scanrun.c, which packs them as
 * binlog_scan reads them. The format is described at the top of handover.c. */
#ifndef OTTER_PACKWRITE_H
#define OTTER_PACKWRITE_H
#include "native.h"
#include <stdint.h>

#define CACHED 16 /* objects a role remembers by identity (OLTP: a few tables, three event types) */

typedef struct {
    char *d;
    Py_ssize_t n, cap;
} Buf;

static inline int
buf_put(Buf *b, const void *p, Py_ssize_t len)
{
    if (b->n + len > b->cap) {
        Py_ssize_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + len)
            cap *= 2;
        char *d = PyMem_Realloc(b->d, (size_t)cap);
        if (d == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->n, p, (size_t)len);
    b->n += len;
    return 0;
}

#define PUT(b, v) buf_put((b), &(v), (Py_ssize_t)sizeof(v))

/* One role's objects (names and files; event types; decoder keys): each kept in its own dict, so that
   equal values of different types (EventType.INSERT == "I") never share an index. */
typedef struct {
    PyObject *index; /* object -> its index in the names list */
    int by_identity; /* the role's objects are the packed items' own (kept alive by them for the call) */
    PyObject *keep;  /* NULL, or a list holding each object remembered by identity (whose owner may go) */
    PyObject *seen[CACHED];
    uint32_t at[CACHED];
    int next;
} Role;

/* The index of `obj` in `names` (appended when new); -1 with an exception. */
static inline long
name_index(Role *role, PyObject *names, PyObject *obj)
{
    if (role->by_identity)
        for (int i = 0; i < CACHED; i++)
            if (role->seen[i] == obj)
                return role->at[i];
    long idx;
    PyObject *found = PyDict_GetItemWithError(role->index, obj);
    if (found != NULL)
        idx = PyLong_AsLong(found);
    else {
        if (PyErr_Occurred())
            return -1;
        idx = (long)PyList_GET_SIZE(names);
        if (idx > (long)UINT32_MAX - 1) {
            PyErr_SetString(PyExc_OverflowError, "too many names in one packed run");
            return -1;
        }
        PyObject *number = PyLong_FromLong(idx);
        if (number == NULL)
            return -1;
        int failed = PyList_Append(names, obj) < 0 || PyDict_SetItem(role->index, obj, number) < 0;
        Py_DECREF(number);
        if (failed)
            return -1;
    }
    if (role->by_identity) { /* `obj` stays alive (the call, or `keep`): its address stays its own */
        if (role->keep != NULL && PyList_Append(role->keep, obj) < 0)
            return -1;
        role->seen[role->next] = obj;
        role->at[role->next] = (uint32_t)idx;
        role->next = (role->next + 1) % CACHED;
    }
    return idx;
}


/* Appends the u32 index of `obj` in `names` (see name_index) to `b`. */
static inline int
put_name(Buf *b, PyObject *names, Role *role, PyObject *obj)
{
    long idx = name_index(role, names, obj);
    if (idx < 0)
        return -1;
    uint32_t v = (uint32_t)idx;
    return PUT(b, v);
}
#endif
