"""The model: YAML cube definitions read, located and validated; the cell vocabulary, the cut
grammar and cut resolution its indicators are written in. Imports nothing else of LabIS but
`errors` and `settings`."""
