/* A run of transactions that binlog_scan packs as it reads them (scanrun.c), in handover.c's format. */
#ifndef OTTER_SCANRUN_H
#define OTTER_SCANRUN_H
#include "packwrite.h"

#define RUN_KEYS 32    /* decoder keys a run finds without building their tuple (OLTP: a dozen) */
#define RUN_BITMAP 64  /* the widest column bitmap such a key holds, in bytes (512 columns) */
#define RUN_GTID 64    /* room for "domain-server-sequence" */

typedef struct {
    long long ident;
    int which;
    Py_ssize_t width;
    unsigned char bitmaps[2 * RUN_BITMAP];
    uint32_t index;
} RunKey;

typedef struct {
    Buf buf;             /* the blob */
    PyObject *names;     /* list; NULL until the first transaction */
    Role text, etypes, keys;
    RunKey cache[RUN_KEYS];
    int ncached;
    uint32_t count;      /* committed transactions in the blob */
    uint64_t size;       /* their sizes */
    /* the open transaction (tx_head -1: none) */
    Py_ssize_t tx_head;  /* its record's offset in the blob */
    Py_ssize_t tx_event; /* its GTID packet's offset in the scan's buffer: where a rewind goes back to */
    uint32_t tx_chunks;
    uint64_t tx_size;
    char gtid[RUN_GTID];
    int gtid_len;
    /* the last committed transaction */
    uint64_t last_pos, last_ts;
    char last_gtid[RUN_GTID];
    int last_gtid_len;
} ScanRun;

void otter_run_init(ScanRun *run);
void otter_run_clear(ScanRun *run);
int otter_run_begin(ScanRun *run, PyObject *log_file, Py_ssize_t event_at, const char *gtid, int gtid_len);
int otter_run_rows(ScanRun *run, const unsigned char *e, Py_ssize_t p, Py_ssize_t end, int which, Py_ssize_t width,
                   PyObject *schema, PyObject *table, PyObject *ident, PyObject *kind, PyObject *etype,
                   PyObject *log_file, long long max_body);
void otter_run_commit(ScanRun *run, uint32_t log_pos, uint32_t timestamp);
void otter_run_rewind(ScanRun *run);
int otter_run_flush(ScanRun *run, PyObject *sink, PyObject *method);
#endif
