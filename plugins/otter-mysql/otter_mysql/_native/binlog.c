/* The selector's binlog event loop over a buffer of dump packets (otter_mysql.binlog_reader).
 *
 * The Python reader spent most of its ~25 us per OLTP transaction on per-event dispatch: the header's
 * unpack, the checksum call, a branch chain and a method call per event. These functions walk the
 * packets already read into a buffer, verify each event's CRC32, and handle the events an OLTP backlog
 * is made of (MariaDB GTID, Xid, Table_map bodies seen before, rows events of tables whose codec is
 * known, Annotate_rows) exactly as binlog_reader.NativeReader and tx_assembly do, calling the sink only
 * where the Python reader calls it per transaction (_on_gtid, _on_commit) or on a layout change
 * (_forget_table). Anything else stops the walk at that packet with status 1, and the Python reader
 * handles the packet itself (the reference behaviour: errors, rare events, first sight of a table).
 *
 * With runs on (mode 1, scanrun.c), a plain transaction is not handed to the sink's handlers at all: it is
 * packed into a run that goes to the sink's _on_run once per call. A transaction that holds anything else
 * (a rows event the Python reader takes, a table not yet declared to the runner, a body over max_body
 * bytes, more than max_walk bytes of events) is rewound: status 2 and mode 2, and the next call reads it
 * from its GTID event the way above (mode 2 turns back to 1 at the next commit it hands over).
 *
 * binlog_scan(buf, pos, crc, log_file, table_map, maps, codecs, sink, mode, declared) -> (pos, status, mode)
 *   mode 0: no runs; declared: the set of decoder idents the runner was told of (runs only)
 * binlog_skip(buf, pos, crc, limit) -> (pos, status)        the schema history's scan (Query events only)
 * binlog_setup(raw, kinds, max_body, max_walk)               the chunk constants of otter_mysql.handover
 *   status 0: the packet at pos is incomplete (read more), 1: the Python reader takes the packet at pos,
 *   2: a transaction rewound to its GTID event at pos (call again with the mode returned).
 */
#include "native.h"
#include "scanrun.h"
#include <zlib.h>

enum { QUERY = 2, ROTATE = 4, FORMAT = 15, XID = 16, TABLE_MAP = 19, ANNOTATE = 160, MARIADB_GTID = 162 };
#define MAX_PACKET 0xFFFFFF

static PyObject *raw_kind;      /* handover.RAW */
static PyObject *kinds[3][2];   /* (rowcodec kind, EventType) of WRITE, UPDATE, DELETE */
static long long max_body, max_walk; /* a run's transaction: its rows' bytes, its events' bytes */
static PyObject *s_on_gtid, *s_on_commit, *s_forget_table, *s_chunks, *s_tx_size, *s_schema, *s_table,
    *s_ident, *s_retl, *s_on_run;

static inline uint32_t
le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t
le48(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40;
}

PyObject *
otter_binlog_setup(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4 || !PyTuple_Check(args[1]) || PyTuple_GET_SIZE(args[1]) != 3) {
        PyErr_SetString(PyExc_TypeError,
                        "binlog_setup(raw, ((WRITE, etype), (UPDATE, etype), (DELETE, etype)), max_body, max_walk)");
        return NULL;
    }
    long long body = PyLong_AsLongLong(args[2]), walk = PyLong_AsLongLong(args[3]);
    if ((body == -1 || walk == -1) && PyErr_Occurred())
        return NULL;
    max_body = body;
    max_walk = walk;
    for (int i = 0; i < 3; i++) {
        PyObject *pair = PyTuple_GET_ITEM(args[1], i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "binlog_setup: each kind is (rowcodec kind, EventType)");
            return NULL;
        }
        for (int j = 0; j < 2; j++)
            Py_XSETREF(kinds[i][j], Py_NewRef(PyTuple_GET_ITEM(pair, j)));
    }
    Py_XSETREF(raw_kind, Py_NewRef(args[0]));
    if (s_on_gtid == NULL) {
        static const char *const text[] = {"_on_gtid", "_on_commit", "_forget_table", "_chunks", "_tx_size",
                                           "schema", "table", "ident", "retl", "_on_run"};
        PyObject **slot[] = {&s_on_gtid, &s_on_commit, &s_forget_table, &s_chunks, &s_tx_size,
                             &s_schema, &s_table, &s_ident, &s_retl, &s_on_run};
        for (size_t i = 0; i < sizeof(slot) / sizeof(slot[0]); i++)
            if ((*slot[i] = PyUnicode_InternFromString(text[i])) == NULL)
                return NULL;
    }
    Py_RETURN_NONE;
}

/* One packet at d[pos:]: its payload's start and size; 0 incomplete, 1 the Python reader's, 2 ready. */
static int
packet(const unsigned char *d, Py_ssize_t n, Py_ssize_t pos, Py_ssize_t *start, Py_ssize_t *size)
{
    if (n - pos < 4)
        return 0;
    Py_ssize_t len = (Py_ssize_t)(d[pos] | d[pos + 1] << 8 | d[pos + 2] << 16);
    if (len == MAX_PACKET)
        return 1; /* an event over several packets: joined in Python */
    if (n - pos - 4 < len)
        return 0;
    *start = pos + 4;
    *size = len;
    if (len < 20 || d[pos + 4] != 0)
        return 1; /* EOF, an error, or too short: the Python reader's message */
    return 2;
}

/* The event's end without its checksum; -1 when the checksum does not match (the Python reader's error). */
static Py_ssize_t
checked_end(const unsigned char *e, Py_ssize_t size, int crc)
{
    if (!crc || e[5] == FORMAT)
        return crc ? size - 4 : size;
    if (size < 24)
        return -1;
    Py_ssize_t end = size - 4;
    uLong sum = crc32(0L, e + 1, (uInt)(end - 1));
    return (uint32_t)sum == le32(e + end) ? end : -1;
}

static PyObject *
result(Py_ssize_t pos, int status)
{
    return Py_BuildValue("(ni)", pos, status);
}

/* The packet walk binlog_scan and binlog_skip share: the buffer from `pos` on, one whole event at a time. */
typedef struct {
    Py_buffer view;
    Py_ssize_t pos, start, size;
    int crc, status;
} Walk;

/* buf, pos and crc of either call; -1 with an exception when one is wrong (no buffer held then). */
static inline int
walk_open(Walk *w, PyObject *buf, PyObject *pos, PyObject *crc)
{
    w->pos = PyLong_AsSsize_t(pos);
    if (w->pos == -1 && PyErr_Occurred())
        return -1;
    w->crc = PyObject_IsTrue(crc);
    if (w->crc < 0)
        return -1;
    w->status = 0;
    return PyObject_GetBuffer(buf, &w->view, PyBUF_SIMPLE);
}

/* The next whole event (its first byte), or NULL with w->status set: 0 the buffer ends (read more),
 * 1 the Python reader takes the packet at w->pos. The caller moves on with walk_advance. */
static inline const unsigned char *
walk_next(Walk *w)
{
    const unsigned char *d = w->view.buf;
    if (w->pos >= w->view.len)
        return NULL;
    int got = packet(d, w->view.len, w->pos, &w->start, &w->size);
    if (got < 2) {
        w->status = got;
        return NULL;
    }
    return d + w->start;
}

static inline void
walk_advance(Walk *w)
{
    w->pos = w->start + w->size;
}

/* (pos, status) of the walk; the buffer is released. */
static inline PyObject *
walk_close(Walk *w)
{
    PyBuffer_Release(&w->view);
    return result(w->pos, w->status);
}

static int
rows_event(const unsigned char *e, Py_ssize_t end, int kind, PyObject *log_file, PyObject *table_map,
           PyObject *codecs, PyObject *sink, ScanRun *run, PyObject *declared)
{ /* 1 handled, 0 the Python reader's (in a run's transaction: rewind it), -1 error */
    int which = (kind == 23 || kind == 30) ? 0 : (kind == 24 || kind == 31) ? 1 : 2;
    if (end < 30)
        return 0; /* too short for its post-header: the Python reader's */
    Py_ssize_t p = 28;
    if (kind >= 30)
        p += e[28] | e[29] << 8;
    if (p >= end)
        return 0;
    uint64_t count = e[p];
    if (count >= 251) {
        if (count == 0xFC && p + 3 <= end)
            count = e[p + 1] | e[p + 2] << 8, p += 3;
        else
            return 0;
    }
    else
        p += 1;
    Py_ssize_t width = (Py_ssize_t)((count + 7) >> 3);
    Py_ssize_t bitmaps = which == 1 ? 2 * width : width;
    if (p + bitmaps > end)
        return 0;
    PyObject *tid = PyLong_FromUnsignedLongLong(le48(e + 20));
    if (tid == NULL)
        return -1;
    PyObject *table = PyDict_GetItemWithError(table_map, tid);
    PyObject *codec = table ? PyDict_GetItemWithError(codecs, tid) : NULL;
    Py_DECREF(tid);
    if (codec == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (codec == Py_None)
        return 1; /* a table the pipeline does not take */
    Py_INCREF(table);
    Py_INCREF(codec);
    int ok = -1;
    PyObject *schema = NULL, *name = NULL, *ident = NULL, *bitmap = NULL, *bitmap2 = NULL, *body = NULL,
             *pos = NULL, *raw = NULL, *chunk = NULL, *chunks = NULL, *size = NULL, *total = NULL, *add = NULL;
    schema = PyObject_GetAttr(table, s_schema);
    if (schema == NULL)
        goto done;
    if (!PyUnicode_Check(schema) || PyUnicode_Compare(schema, s_retl) == 0) {
        ok = PyErr_Occurred() ? -1 : 0; /* retl's system tables: loopback marks, decoded in Python */
        goto done;
    }
    if ((name = PyObject_GetAttr(table, s_table)) == NULL || (ident = PyObject_GetAttr(codec, s_ident)) == NULL)
        goto done;
    if (run->tx_head >= 0) { /* the run's transaction: its decoder must have been declared to the runner */
        ok = PySet_Contains(declared, ident);
        if (ok > 0)
            ok = otter_run_rows(run, e, p, end, which, width, schema, name, ident, kinds[which][0], kinds[which][1],
                                log_file, max_body);
        goto done;
    }
    if ((bitmap = PyBytes_FromStringAndSize((const char *)e + p, width)) == NULL)
        goto done;
    p += width;
    if (which == 1) {
        if ((bitmap2 = PyBytes_FromStringAndSize((const char *)e + p, width)) == NULL)
            goto done;
        p += width;
    }
    else
        bitmap2 = Py_NewRef(Py_None);
    if ((body = PyBytes_FromStringAndSize((const char *)e + p, end - p)) == NULL ||
        (pos = PyLong_FromUnsignedLong(le32(e + 14))) == NULL)
        goto done;
    raw = PyTuple_Pack(7, ident, kinds[which][0], bitmap, bitmap2, body, log_file, pos);
    if (raw == NULL)
        goto done;
    PyObject *ts = PyFloat_FromDouble((double)le32(e + 1));
    if (ts == NULL)
        goto done;
    chunk = PyTuple_Pack(6, raw_kind, schema, name, kinds[which][1], ts, raw);
    Py_DECREF(ts);
    if (chunk == NULL || (chunks = PyObject_GetAttr(sink, s_chunks)) == NULL || PyList_Append(chunks, chunk) < 0)
        goto done;
    if ((size = PyObject_GetAttr(sink, s_tx_size)) == NULL || (add = PyLong_FromSsize_t(end - p)) == NULL ||
        (total = PyNumber_Add(size, add)) == NULL || PyObject_SetAttr(sink, s_tx_size, total) < 0)
        goto done;
    ok = 1;
done:
    Py_XDECREF(schema), Py_XDECREF(name), Py_XDECREF(ident), Py_XDECREF(bitmap), Py_XDECREF(bitmap2);
    Py_XDECREF(body), Py_XDECREF(pos), Py_XDECREF(raw), Py_XDECREF(chunk), Py_XDECREF(chunks);
    Py_XDECREF(size), Py_XDECREF(add), Py_XDECREF(total);
    Py_DECREF(table), Py_DECREF(codec);
    return ok;
}

static int
table_map_event(const unsigned char *e, Py_ssize_t end, PyObject *table_map, PyObject *maps, PyObject *sink)
{ /* 1 handled (a body seen before), 0 the Python reader's (parsed there once), -1 error */
    if (end < 28)
        return 0;
    PyObject *body = PyBytes_FromStringAndSize((const char *)e + 20, end - 20);
    if (body == NULL)
        return -1;
    PyObject *info = PyDict_GetItemWithError(maps, body);
    Py_DECREF(body);
    if (info == NULL)
        return PyErr_Occurred() ? -1 : 0;
    PyObject *tid = PyLong_FromUnsignedLongLong(le48(e + 20));
    if (tid == NULL)
        return -1;
    int ok = 1;
    Py_INCREF(info);
    PyObject *previous = PyDict_GetItemWithError(table_map, tid);
    if (previous == NULL && PyErr_Occurred())
        ok = -1;
    else if (previous != info) {
        Py_XINCREF(previous);
        if (PyDict_SetItem(table_map, tid, info) < 0)
            ok = -1;
        else if (previous != NULL) { /* the same id with another layout: its decoder goes */
            PyObject *r = PyObject_CallMethodOneArg(sink, s_forget_table, tid);
            ok = r ? 1 : -1;
            Py_XDECREF(r);
        }
        Py_XDECREF(previous);
    }
    Py_DECREF(info);
    Py_DECREF(tid);
    return ok;
}

/* The sink's handler of a transaction's GTID event, the Python way. */
static int
call_on_gtid(PyObject *sink, const char *gtid, int len, int in_tx)
{
    PyObject *text = PyUnicode_FromStringAndSize(gtid, len);
    PyObject *r = text ? PyObject_CallMethodObjArgs(sink, s_on_gtid, text, in_tx ? Py_True : Py_False, NULL) : NULL;
    Py_XDECREF(text);
    Py_XDECREF(r);
    return r ? 1 : -1;
}

static int
call_on_commit(PyObject *sink, uint32_t log_pos, uint32_t timestamp)
{
    PyObject *at = PyLong_FromUnsignedLong(log_pos), *ts = PyLong_FromUnsignedLong(timestamp);
    PyObject *r = at && ts ? PyObject_CallMethodObjArgs(sink, s_on_commit, at, ts, NULL) : NULL;
    Py_XDECREF(at), Py_XDECREF(ts);
    Py_XDECREF(r);
    return r ? 1 : -1;
}

/* An Xid event: the run's transaction committed into the run, or the sink's _on_commit (after the run, so
   that transactions keep their order). 1 handled, -1 error. */
static int
xid_event(const unsigned char *e, PyObject *sink, ScanRun *run, int *mode)
{
    uint32_t log_pos = le32(e + 14), ts = le32(e + 1);
    if (run->tx_head >= 0 && run->tx_chunks > 0) {
        otter_run_commit(run, log_pos, ts);
        return 1;
    }
    char gtid[RUN_GTID];
    int len = run->gtid_len, empty = run->tx_head >= 0; /* no rows the pipeline takes: the Python way's */
    memcpy(gtid, run->gtid, (size_t)len);
    otter_run_rewind(run);
    if (otter_run_flush(run, sink, s_on_run) < 0)
        return -1;
    if (empty && call_on_gtid(sink, gtid, len, 1) < 0)
        return -1;
    if (*mode == 2)
        *mode = 1; /* the rewound transaction was handed over */
    return call_on_commit(sink, log_pos, ts);
}

PyObject *
otter_binlog_scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 10 || !PyLong_Check(args[1]) || !PyDict_Check(args[4]) || !PyDict_Check(args[5]) ||
        (args[6] != Py_None && !PyDict_Check(args[6])) || !PyLong_Check(args[8]) ||
        (args[9] != Py_None && !PyAnySet_Check(args[9]))) {
        PyErr_SetString(PyExc_TypeError, "binlog_scan(buf, pos, crc, log_file, table_map: dict, maps: dict, codecs, "
                                         "sink, mode: int, declared: set | None)");
        return NULL;
    }
    if (raw_kind == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "binlog_setup() was not called");
        return NULL;
    }
    PyObject *log_file = args[3], *table_map = args[4], *maps = args[5], *codecs = args[6], *sink = args[7];
    PyObject *declared = args[9];
    int mode = (int)PyLong_AsLong(args[8]);
    if (mode == -1 && PyErr_Occurred())
        return NULL;
    if (declared == Py_None || codecs == Py_None)
        mode = 0;
    ScanRun run;
    otter_run_init(&run);
    Walk w;
    if (walk_open(&w, args[0], args[1], args[2]) < 0)
        return NULL;
    const unsigned char *e;
    while ((e = walk_next(&w)) != NULL) {
        Py_ssize_t end = checked_end(e, w.size, w.crc);
        int kind = e[5], done = 0;
        if (end >= 20 && run.tx_head >= 0 && w.start - run.tx_event > max_walk)
            end = 0; /* a long transaction of rows the pipeline skips: read once, the Python way */
        if (end < 20)
            done = 0;
        else if (kind == 23 || kind == 24 || kind == 25 || kind == 30 || kind == 31 || kind == 32)
            done = codecs == Py_None ? 0 : rows_event(e, end, kind, log_file, table_map, codecs, sink, &run, declared);
        else if (kind == TABLE_MAP)
            done = table_map_event(e, end, table_map, maps, sink);
        else if (kind == MARIADB_GTID && end >= 33 && run.tx_head < 0) {
            char gtid[RUN_GTID];
            int len = snprintf(gtid, sizeof(gtid), "%lu-%lu-%llu", (unsigned long)le32(e + 28),
                               (unsigned long)le32(e + 6),
                               (unsigned long long)((uint64_t)le32(e + 20) | (uint64_t)le32(e + 24) << 32));
            int in_tx = !(e[32] & 1);
            if (mode == 1 && in_tx)
                done = otter_run_begin(&run, log_file, w.pos, gtid, len) < 0 ? -1 : 1;
            else
                done = call_on_gtid(sink, gtid, len, in_tx);
        }
        else if (kind == XID)
            done = xid_event(e, sink, &run, &mode);
        else if (kind == ANNOTATE)
            done = 1;
        if (done < 0)
            goto fail;
        if (!done) {
            if (run.tx_head >= 0) { /* the run's transaction holds more than it takes: the Python way */
                w.pos = run.tx_event;
                otter_run_rewind(&run);
                mode = 2;
                w.status = 2;
            }
            else
                w.status = 1;
            break;
        }
        walk_advance(&w);
    }
    if (run.tx_head >= 0) { /* the buffer ends inside it: read again from its GTID event with more */
        w.pos = run.tx_event;
        otter_run_rewind(&run);
        if (w.status == 1) { /* or a packet the Python reader takes (an event over 16 MB, EOF): its way */
            w.status = 2;
            mode = 2;
        }
    }
    if (otter_run_flush(&run, sink, s_on_run) < 0)
        goto fail;
    otter_run_clear(&run);
    PyBuffer_Release(&w.view);
    return Py_BuildValue("(nii)", w.pos, w.status, mode);
fail:
    otter_run_clear(&run);
    PyBuffer_Release(&w.view);
    return NULL;
}

PyObject *
otter_binlog_skip(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "binlog_skip(buf, pos, crc, limit)");
        return NULL;
    }
    long long limit = PyLong_AsLongLong(args[3]);
    if (limit == -1 && PyErr_Occurred())
        return NULL;
    Walk w;
    if (walk_open(&w, args[0], args[1], args[2]) < 0)
        return NULL;
    const unsigned char *e;
    while ((e = walk_next(&w)) != NULL) {
        int kind = e[5];
        long long log_pos = le32(e + 14);
        if (kind == QUERY || kind == ROTATE || kind == FORMAT || checked_end(e, w.size, w.crc) < 20 ||
            (log_pos && log_pos > limit)) {
            w.status = 1;
            break;
        }
        walk_advance(&w);
    }
    return walk_close(&w);
}
