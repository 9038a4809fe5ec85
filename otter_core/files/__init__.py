"""File sync: rows refer to files (FileResolver); Extract collects them, Load writes them under the target root.

``collect`` runs in Extract (resolver output -> ``FileRef`` with the source file's size and mtime),
``local`` reads source files on the same node, ``fetch`` writes one file resumably (temp + rename) and
``stage`` is the Load-side step that brings a batch's files in before its rows.
"""
