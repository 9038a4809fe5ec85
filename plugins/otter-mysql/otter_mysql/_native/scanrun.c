/* Transactions packed as binlog_scan reads them (binlog.c), for the selector process's hand-over.
 *
 * With the hand-over packed (handover.c), the selector process still built each OLTP transaction as
 * Python objects in its reader thread (a GTID string, chunk tuples, a Position, a Transaction, the
 * handlers _on_gtid and _on_commit), then its main thread checked and packed them: most of its ~11 us per
 * transaction. Here a plain transaction (a MariaDB GTID, rows events of tables whose decoder the runner
 * was told of, an Xid) is written straight into a run in handover.c's format; the run goes to the sink's
 * _on_run as (names, blob, count, size, log_pos, gtid, timestamp) of its last transaction, once per scan
 * call. Whatever else a transaction holds makes binlog.c rewind to its GTID event and read it the
 * Python way (otter_run_rewind drops what was written of it).
 */
#include "scanrun.h"

/* Offsets in a transaction's record (see handover.c): the fields the commit writes. */
enum { HEAD_CHUNKS = 0, HEAD_FILE = 4, HEAD_POS = 8, HEAD_GTID_LEN = 16, HEAD_GTID = 24 };

static inline uint32_t
le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void
otter_run_init(ScanRun *run)
{
    memset(run, 0, sizeof(*run));
    run->tx_head = -1;
}

void
otter_run_clear(ScanRun *run)
{
    PyMem_Free(run->buf.d);
    Py_XDECREF(run->names);
    Role *roles[] = {&run->text, &run->etypes, &run->keys};
    for (int i = 0; i < 3; i++) {
        Py_XDECREF(roles[i]->index);
        Py_XDECREF(roles[i]->keep);
    }
    otter_run_init(run);
}

static int
run_open(ScanRun *run)
{
    if (run->names != NULL)
        return 0;
    if ((run->names = PyList_New(0)) == NULL || (run->text.index = PyDict_New()) == NULL ||
        (run->text.keep = PyList_New(0)) == NULL || (run->etypes.index = PyDict_New()) == NULL ||
        (run->etypes.keep = PyList_New(0)) == NULL || (run->keys.index = PyDict_New()) == NULL)
        return -1;
    run->text.by_identity = run->etypes.by_identity = 1;
    return 0;
}

int
otter_run_begin(ScanRun *run, PyObject *log_file, Py_ssize_t event_at, const char *gtid, int gtid_len)
{
    if (run_open(run) < 0)
        return -1;
    run->tx_head = run->buf.n;
    run->tx_event = event_at;
    run->tx_chunks = 0;
    run->tx_size = 0;
    memcpy(run->gtid, gtid, (size_t)gtid_len);
    run->gtid_len = gtid_len;
    uint32_t zero32 = 0;
    uint64_t zero64 = 0;
    int64_t glen = gtid_len;
    if (PUT(&run->buf, zero32) < 0 || put_name(&run->buf, run->names, &run->text, log_file) < 0 ||
        PUT(&run->buf, zero64) < 0 || PUT(&run->buf, glen) < 0 || buf_put(&run->buf, gtid, gtid_len) < 0 ||
        PUT(&run->buf, zero64) < 0 || PUT(&run->buf, zero64) < 0) {
        otter_run_rewind(run);
        return -1;
    }
    return 0;
}

/* The names index of the decoder key (ident, kind, bitmap, bitmap2) of a rows event whose bitmaps start
   at `bm`; -1 with an exception. */
static long
key_index(ScanRun *run, const unsigned char *bm, int which, Py_ssize_t width, PyObject *ident, PyObject *kind)
{
    long long id = PyLong_AsLongLong(ident);
    if (id == -1 && PyErr_Occurred())
        return -1;
    Py_ssize_t bytes = which == 1 ? 2 * width : width;
    for (int i = 0; i < run->ncached; i++) {
        RunKey *k = &run->cache[i];
        if (k->ident == id && k->which == which && k->width == width && memcmp(k->bitmaps, bm, (size_t)bytes) == 0)
            return k->index;
    }
    PyObject *bitmap = PyBytes_FromStringAndSize((const char *)bm, width);
    PyObject *bitmap2 = which == 1 ? PyBytes_FromStringAndSize((const char *)bm + width, width) : Py_NewRef(Py_None);
    PyObject *key = bitmap && bitmap2 ? PyTuple_Pack(4, ident, kind, bitmap, bitmap2) : NULL;
    Py_XDECREF(bitmap);
    Py_XDECREF(bitmap2);
    if (key == NULL)
        return -1;
    long idx = name_index(&run->keys, run->names, key);
    Py_DECREF(key);
    if (idx >= 0 && run->ncached < RUN_KEYS && width <= RUN_BITMAP) {
        RunKey *k = &run->cache[run->ncached++];
        k->ident = id;
        k->which = which;
        k->width = width;
        memcpy(k->bitmaps, bm, (size_t)bytes);
        k->index = (uint32_t)idx;
    }
    return idx;
}

int
otter_run_rows(ScanRun *run, const unsigned char *e, Py_ssize_t p, Py_ssize_t end, int which, Py_ssize_t width,
               PyObject *schema, PyObject *table, PyObject *ident, PyObject *kind, PyObject *etype,
               PyObject *log_file, long long max_body)
{ /* 1 written, 0 the transaction grew past max_body (the Python way takes it), -1 error */
    Py_ssize_t body = p + (which == 1 ? 2 * width : width);
    uint64_t blen = (uint64_t)(end - body);
    if ((long long)(run->tx_size + blen) > max_body)
        return 0;
    long key = key_index(run, e + p, which, width, ident, kind);
    if (key < 0)
        return -1;
    uint32_t k = (uint32_t)key;
    double ts = (double)le32(e + 1);
    uint64_t log_pos = le32(e + 14);
    PyObject *names = run->names;
    if (put_name(&run->buf, names, &run->text, schema) < 0 || put_name(&run->buf, names, &run->text, table) < 0 ||
        put_name(&run->buf, names, &run->etypes, etype) < 0 || PUT(&run->buf, k) < 0 ||
        put_name(&run->buf, names, &run->text, log_file) < 0 ||
        PUT(&run->buf, ts) < 0 || PUT(&run->buf, log_pos) < 0 || PUT(&run->buf, blen) < 0 ||
        buf_put(&run->buf, e + body, (Py_ssize_t)blen) < 0)
        return -1;
    run->tx_chunks++;
    run->tx_size += blen;
    return 1;
}

void
otter_run_commit(ScanRun *run, uint32_t log_pos, uint32_t timestamp)
{
    char *h = run->buf.d + run->tx_head;
    uint64_t pos = log_pos, ts = timestamp;
    memcpy(h + HEAD_CHUNKS, &run->tx_chunks, sizeof(uint32_t));
    memcpy(h + HEAD_POS, &pos, sizeof(pos));
    memcpy(h + HEAD_GTID + run->gtid_len, &ts, sizeof(ts));
    memcpy(h + HEAD_GTID + run->gtid_len + 8, &run->tx_size, sizeof(uint64_t));
    run->count++;
    run->size += run->tx_size;
    run->last_pos = pos;
    run->last_ts = ts;
    memcpy(run->last_gtid, run->gtid, (size_t)run->gtid_len);
    run->last_gtid_len = run->gtid_len;
    run->tx_head = -1;
}

void
otter_run_rewind(ScanRun *run)
{
    if (run->tx_head >= 0)
        run->buf.n = run->tx_head;
    run->tx_head = -1;
}

int
otter_run_flush(ScanRun *run, PyObject *sink, PyObject *method)
{ /* the committed transactions to sink.method(names, blob, count, size, log_pos, gtid, timestamp) */
    if (run->count == 0)
        return 0;
    if (run->tx_head >= 0) {
        PyErr_SetString(PyExc_SystemError, "a packed run flushed with a transaction open");
        return -1;
    }
    PyObject *names = PyList_AsTuple(run->names);
    PyObject *blob = names ? PyBytes_FromStringAndSize(run->buf.d, run->buf.n) : NULL;
    PyObject *r = NULL;
    if (blob != NULL)
        r = PyObject_CallMethod(sink, PyUnicode_AsUTF8(method), "OOIKKs#K", names, blob, run->count,
                                (unsigned long long)run->size, (unsigned long long)run->last_pos, run->last_gtid,
                                (Py_ssize_t)run->last_gtid_len, (unsigned long long)run->last_ts);
    Py_XDECREF(names);
    Py_XDECREF(blob);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    otter_run_clear(run); /* a new run: its names start empty */
    return 0;
}
