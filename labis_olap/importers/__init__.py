"""Importers: adapters that bring a model and its data from another OLAP tool into LabIS.

An importer sits beside the architecture, not inside it: it reads the other tool's files,
writes an ordinary LabIS model folder and a loader spec (the same YAML as loaders/*.yaml), and
hands the data to the loaders, which check it, record rejects and lineage, and load it as a
batch. Nothing in labis_olap imports an importer except the command line (cli.py).

`cubes` imports a Cubes 1.x model.json and its denormalised data CSV (`labis import-cubes`).
"""
