/** Absolute path of voxtelem.so for this platform (linux-x64); throws elsewhere. */
export function getLoadablePath(): string;
/** Loads voxtelem into a better-sqlite3 or libsql Database; returns it. */
export function load<T extends { loadExtension(path: string, ...rest: unknown[]): unknown }>(db: T): T;
