"""The OwnerCard (SPEC §2): the channel owner's editorial, safety and operating policy.

- ``card``: its shape, typed attrs classes with a default for every field;
- ``load``: reading it from YAML, the field checker (types, unknown keys), errors that name
  the field path, ``vvtv owner-card validate``;
- ``rules``: the ranges, cross-field rules (critical < target, commit lead within the
  horizon, ...) and warnings that a well-typed card must still meet;
- ``holder``: the card in force: boot, reload (the previous card stays on error), and the
  diff recorded with every applied version.

``card`` ← ``rules`` ← ``load`` ← ``holder``: each module imports only those before it.
"""
