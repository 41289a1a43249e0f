"""voxtelem: the voxtelem SQLite extension for Python's sqlite3.

    import sqlite3, voxtelem
    conn = sqlite3.connect("app.db")
    voxtelem.load(conn)
    conn.execute("SELECT * FROM telem_prune_plan").fetchall()

The wheel carries voxtelem.so for the platform it was built on (Linux,
glibc); it links the system's libjansson, libyaml, libpcre2-8 and libxxhash
(Debian: libjansson4 libyaml-0-2 libpcre2-8-0 libxxhash0).
"""

import os
import sqlite3

__all__ = ["loadable_path", "load", "__version__"]
__version__ = "@VERSION@"


def loadable_path():
    """Absolute path of the bundled voxtelem.so, for any tool that loads
    SQLite extensions by path (e.g. ``sqlite-utils --load-extension``)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "voxtelem.so")


def load(conn):
    """Load voxtelem into ``conn``: a ``sqlite3.Connection``, or an object
    holding one in ``.conn`` (``sqlite_utils.Database``).  Returns ``conn``.

    Extension loading is switched on only for this call and off again after,
    so SQL in the database cannot call ``load_extension()`` later.
    Raises ``RuntimeError`` when this Python's sqlite3 cannot load extensions,
    ``sqlite3.OperationalError`` when the library does not load.
    """
    target = conn
    if not isinstance(target, sqlite3.Connection) and isinstance(
        getattr(target, "conn", None), sqlite3.Connection
    ):
        target = target.conn
    if not hasattr(target, "enable_load_extension"):
        raise RuntimeError(
            "voxtelem.load: this Python's sqlite3 cannot load extensions (built "
            "without loadable extension support); Debian's /usr/bin/python3 can"
        )
    target.enable_load_extension(True)
    try:
        target.load_extension(loadable_path())
    finally:
        target.enable_load_extension(False)
    return conn
