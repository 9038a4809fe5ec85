/* Shared declarations of the otter_mysql._rowdecode extension (sources in this folder):
 *   values.c   one value of a row image (integers, strings, dates and times, DECIMAL) and one image
 *   decoder.c  the Decoder type: a rows-event body -> rows, as otter_mysql.rowcodec expects them
 *   literals.c SQL literals of a row (otter_mysql.dialect.literal_row)
 *   statements.c a chunk's whole multi-row statement (otter_mysql.loader)
 *   shapes.c   the loader's statement grouping (otter_mysql.load_plan)
 *   events.c   EventData built slot by slot, a transaction's raw rows events in one call (handover)
 *   handover.c runs of raw transactions packed into one blob for the selector process's pipe, and
 *              expanded from it (otter_mysql.handover)
 *   textrows.c result-set rows of the text protocol (otter_mysql.bulk_read)
 *   bulkrows.c a snapshot chunk's rows as SQL text (otter_mysql.bulk_load); both read fields with textpacket.h
 *   binlog.c   the selector's event loop over dump packets (otter_mysql.binlog_reader)
 *   scanrun.c  the transactions that loop packs as it reads them (handover.c's format; packwrite.h)
 *   module.c   the module
 */
#ifndef OTTER_NATIVE_H
#define OTTER_NATIVE_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

enum {
    OP_INT = 0,       /* little-endian signed integer of `size` bytes */
    OP_UINT = 1,      /* little-endian unsigned integer */
    OP_FLOAT = 2,     /* 4-byte IEEE float */
    OP_DOUBLE = 3,    /* 8-byte IEEE double */
    OP_YEAR = 4,      /* 1 byte, 0 or year - 1900 */
    OP_BE_CALL = 5,   /* big-endian unsigned integer -> fn(x) (fn None: the int) */
    OP_LE_CALL = 6,   /* little-endian unsigned integer -> fn(x) */
    OP_LE_SCALL = 7,  /* little-endian signed integer -> fn(x) */
    OP_ENUM = 8,      /* little-endian index into the `labels` tuple */
    OP_BYTES = 9,     /* length-prefixed (`size`-byte length) bytes, padded with 0x00 to `pad` */
    OP_UTF8 = 10,     /* length-prefixed UTF-8 text (strict) */
    OP_BYTES_CALL = 11, /* length-prefixed bytes -> fn(raw) */
    /* native temporal and decimal values; fn(x) (x: the value's integer, as OP_BE_CALL/OP_LE_CALL
       would pass it) for what Python's types cannot hold (zero dates), `pad` carries the layout */
    OP_DATE = 12,      /* 3 bytes LE -> date */
    OP_DATETIME2 = 13, /* 5 + pad bytes BE -> datetime (pad: fractional bytes) */
    OP_TIMESTAMP2 = 14,/* 4 + pad bytes BE -> aware UTC datetime (fn: the utc tzinfo) */
    OP_TIME2 = 15,     /* 3 + pad bytes BE -> timedelta */
    OP_DECIMAL = 16    /* packed DECIMAL -> fn(text) (fn: decimal.Decimal); pad = precision << 8 | scale */
};


typedef struct {
    Py_ssize_t column;  /* ordinal of the column in the table */
    int op;
    Py_ssize_t size;    /* fixed size, or the width of the length prefix */
    Py_ssize_t pad;
    PyObject *fn;       /* borrowed from Decoder.spec; NULL for none */
    PyObject *memo;     /* borrowed dict or NULL */
} Op;

typedef struct {
    PyObject_HEAD
    int update;
    Py_ssize_t ncolumns;
    Op *ops[2];
    Py_ssize_t nops[2];
    Op **before_op;        /* UPDATE: the before image's operation of each column (NULL: absent) */
    Py_ssize_t *keys, nkeys;
    Py_ssize_t *data, ndata;
    PyObject *key_names;   /* tuple of str */
    PyObject *data_names;  /* tuple of str */
    PyObject *spec;        /* the constructor arguments: keeps every borrowed object alive */
} Decoder;

/* attribute names of EventData the extension reads, interned once at import (statements.c, shapes.c) */
typedef struct {
    PyObject *event_type, *schema, *table, *keys, *columns, *old_keys, *updated, *hints, *size;
} OtterNames;
extern OtterNames otter_names;

extern PyObject *otter_truncated;   /* otter_mysql._rowdecode.TruncatedRow */
extern PyTypeObject otter_decoder_type;
PyObject *otter_decode_body(Decoder *self, const unsigned char *d, Py_ssize_t end);

int otter_values_init(void);
int otter_literals_init(void);
int otter_read_image(Op *ops, Py_ssize_t nops, const unsigned char *d, Py_ssize_t *pp, Py_ssize_t end,
                     PyObject **vals, Py_ssize_t *spans);
PyObject *otter_read_value(Op *op, const unsigned char *d, Py_ssize_t *pp, Py_ssize_t end);
extern const char otter_escape[128];  /* the backslash escape of each ASCII character, 0: none */
extern PyObject *otter_decimal_type;
PyObject *otter_lit_value(PyObject *v, PyObject *fallback);
PyObject *otter_lit_decimal(PyObject *v);
int otter_temporal_literal(PyObject *v, char *text);
PyObject *otter_default_literal(void);
PyObject *otter_statement_shapes(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *otter_sql_values(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *otter_sql_literal_row(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *otter_build_events(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *otter_expand_raw(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *otter_expand_raw_at(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
#define OTTER_MAX_FIELDS 64 /* EventData fields the extension builds at most */
int otter_check_layout(PyObject *descrs, Py_ssize_t ntemplate, PyObject *places, Py_ssize_t *at);
int otter_build_into(PyTypeObject *cls, PyObject *descrs, PyObject *const *template, PyObject *rows,
                     const Py_ssize_t *at, Py_ssize_t nplaces, PyObject *out);
PyObject *otter_pack_txns(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *otter_take_packed(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *otter_unpack_txn(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *otter_text_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *otter_text_packets(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *otter_binlog_setup(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *otter_binlog_scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *otter_binlog_skip(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *otter_sql_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
#endif
