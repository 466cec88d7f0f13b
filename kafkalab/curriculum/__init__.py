"""The lesson runner: reads the manifest, loads a lesson folder, runs its demo and its check.

Called `curriculum` so it is not confused with `lessons/`, the top-level data folder that holds
one sub-folder per lesson (text, demo, check). Adding lesson 21 is adding a folder and a stanza
to `lessons.toml`; nothing here changes.
"""
