"""Demonstrations: the sources they come from and the one file format they are kept in.

- files: the demo file format: record with a scripted demonstrator, save, load with every check, per-episode scores
- scripted: the scripted demonstrators, one per game (DEMONSTRATORS)
- human: a person playing in a window with the keyboard
- atari_head: import of an Atari-HEAD trial
- minari: export to and import from Minari datasets
"""
