/* otter_mysql._rowdecode: compiled row decoder, SQL literals and event construction (see native.h).
 *
 * A Decoder is built once per (table layout, rows-event kind, present-column bitmaps) from a list of
 * per-column operations that otter_mysql.rowops derives from the table map and the schema cache. Calling
 * it with a rows-event body returns exactly what the generated Python decoder returns:
 *   WRITE/DELETE: [(keys, columns, size), ...]
 *   UPDATE:       [(keys, columns, old_keys or None, frozenset(updated), size), ...]
 * Integers, floats, YEAR, ENUM and strings are decoded here; the other types read their fixed-size
 * integer here and call the Python function rowops gives (DECIMAL, dates and times, SET...), through a
 * per-column memo dict when rowops gives one (``memo.get(x) or fn(x)``, as the generated code does).
 */
#include "native.h"

OtterNames otter_names;

static int
names_init(void)
{
    static const char *const text[] = {"event_type", "schema", "table", "keys", "columns", "old_keys", "updated",
                                       "hints", "size"};
    PyObject **slot[] = {&otter_names.event_type, &otter_names.schema, &otter_names.table, &otter_names.keys,
                         &otter_names.columns, &otter_names.old_keys, &otter_names.updated, &otter_names.hints,
                         &otter_names.size};
    for (size_t i = 0; i < sizeof(slot) / sizeof(slot[0]); i++)
        if ((*slot[i] = PyUnicode_InternFromString(text[i])) == NULL)
            return -1;
    return 0;
}

static PyMethodDef functions[] = {
    {"sql_literal_row", (PyCFunction)(void (*)(void))otter_sql_literal_row, METH_FASTCALL,
     "sql_literal_row(values[, literal]) -> '(v1,v2,...)' escaped as PyMySQL binds parameters"},
    {"sql_values", (PyCFunction)(void (*)(void))otter_sql_values, METH_FASTCALL,
     "sql_values(events, start, mode, picks, max_rows, max_chars, big_bytes, head, tail) -> (sql, end)"},
    {"statement_shapes", (PyCFunction)(void (*)(void))otter_statement_shapes, METH_FASTCALL,
     "statement_shapes(events, field_mode, join, big_bytes, insert_only_hint, DELETE, INSERT, UPDATE) -> "
     "[(is_delete, shape, events)]"},
    {"build_events", (PyCFunction)(void (*)(void))otter_build_events, METH_FASTCALL,
     "build_events(cls, descriptors, template, rows, places) -> instances set slot by slot"},
    {"expand_raw", (PyCFunction)(void (*)(void))otter_expand_raw, METH_FASTCALL,
     "expand_raw(cls, descriptors, mid, tail, row_places, update_places, raw, decoders, chunks, position) -> "
     "a transaction's events from its raw rows chunks, or None when the Python path must take it"},
    {"expand_raw_at", (PyCFunction)(void (*)(void))otter_expand_raw_at, METH_FASTCALL,
     "expand_raw_at(cls, descriptors, mid, tail, row_places, update_places, raw, pos_cls, pos_descriptors, "
     "decoders, chunks, fields) -> expand_raw with the position built from its field values"},
    {"pack_txns", (PyCFunction)(void (*)(void))otter_pack_txns, METH_FASTCALL,
     "pack_txns(raw, packed, items, max_size[, run]) -> items, each run of plain raw transactions of at most max_size "
     "bytes as (packed, (names, blob), 0)"},
    {"take_packed", (PyCFunction)(void (*)(void))otter_take_packed, METH_FASTCALL,
     "take_packed(cls, descriptors, mid, tail, row_places, update_places, pos_cls, pos_descriptors, decoders, "
     "names, blob, offset, max_events, max_bytes) -> (events, position, size, offset, done)"},
    {"unpack_txn", (PyCFunction)(void (*)(void))otter_unpack_txn, METH_FASTCALL,
     "unpack_txn(raw, names, blob, offset) -> (the plain transaction packed there, offset, done)"},
    {"text_rows", (PyCFunction)(void (*)(void))otter_text_rows, METH_FASTCALL,
     "text_rows(buffer, kinds, converters, rows) -> (end, status, seq): result-set row packets as PyMySQL "
     "reads them"},
    {"text_packets", (PyCFunction)(void (*)(void))otter_text_packets, METH_FASTCALL,
     "text_packets(buffer) -> (end, status, seq, count, last): text_rows' walk without parsing the rows"},
    {"binlog_setup", (PyCFunction)(void (*)(void))otter_binlog_setup, METH_FASTCALL,
     "binlog_setup(raw, kinds, max_body, max_walk): the chunk constants of otter_mysql.handover and the bounds of "
     "a packed transaction for binlog_scan"},
    {"binlog_scan", (PyCFunction)(void (*)(void))otter_binlog_scan, METH_FASTCALL,
     "binlog_scan(buf, pos, crc, log_file, table_map, maps, codecs, sink, mode, declared) -> (pos, status, mode): "
     "the selector's event loop over dump packets"},
    {"binlog_skip", (PyCFunction)(void (*)(void))otter_binlog_skip, METH_FASTCALL,
     "binlog_skip(buf, pos, crc, limit) -> (pos, status): packets up to the next Query/Rotate/Format event"},
    {"sql_rows", (PyCFunction)(void (*)(void))otter_sql_rows, METH_FASTCALL,
     "sql_rows(raw, lits, offset, row, end_row, max_bytes, skip) -> (text, offset, row): packed result rows "
     "as a VALUES list"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "otter_mysql._rowdecode",
    "Compiled rows-event decoder (see otter_mysql.rowops) and SQL literals (see otter_mysql.dialect).", -1,
    functions, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__rowdecode(void)
{
    if (names_init() < 0 || otter_values_init() < 0 || otter_literals_init() < 0 ||
        PyType_Ready(&otter_decoder_type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    otter_truncated = PyErr_NewException("otter_mysql._rowdecode.TruncatedRow", PyExc_ValueError, NULL);
    if (otter_truncated == NULL || PyModule_AddObjectRef(m, "TruncatedRow", otter_truncated) < 0 ||
        PyModule_AddObjectRef(m, "Decoder", (PyObject *)&otter_decoder_type) < 0 ||
        PyModule_AddIntConstant(m, "OP_INT", OP_INT) < 0 || PyModule_AddIntConstant(m, "OP_UINT", OP_UINT) < 0 ||
        PyModule_AddIntConstant(m, "OP_FLOAT", OP_FLOAT) < 0 ||
        PyModule_AddIntConstant(m, "OP_DOUBLE", OP_DOUBLE) < 0 ||
        PyModule_AddIntConstant(m, "OP_YEAR", OP_YEAR) < 0 ||
        PyModule_AddIntConstant(m, "OP_BE_CALL", OP_BE_CALL) < 0 ||
        PyModule_AddIntConstant(m, "OP_LE_CALL", OP_LE_CALL) < 0 ||
        PyModule_AddIntConstant(m, "OP_LE_SCALL", OP_LE_SCALL) < 0 ||
        PyModule_AddIntConstant(m, "OP_ENUM", OP_ENUM) < 0 ||
        PyModule_AddIntConstant(m, "OP_BYTES", OP_BYTES) < 0 ||
        PyModule_AddIntConstant(m, "OP_UTF8", OP_UTF8) < 0 ||
        PyModule_AddIntConstant(m, "OP_BYTES_CALL", OP_BYTES_CALL) < 0 ||
        PyModule_AddIntConstant(m, "OP_DATE", OP_DATE) < 0 ||
        PyModule_AddIntConstant(m, "OP_DATETIME2", OP_DATETIME2) < 0 ||
        PyModule_AddIntConstant(m, "OP_TIMESTAMP2", OP_TIMESTAMP2) < 0 ||
        PyModule_AddIntConstant(m, "OP_TIME2", OP_TIME2) < 0 ||
        PyModule_AddIntConstant(m, "OP_DECIMAL", OP_DECIMAL) < 0) {
        Py_XDECREF(m);
        return NULL;
    }
    return m;
}