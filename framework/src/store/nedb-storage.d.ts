/** The part of @seald-io/nedb's (untyped) storage module that nedb.ts replaces. */
declare module "@seald-io/nedb/lib/storage.js" {
  const storage: {
    appendFileAsync: (
      file: string,
      data: string,
      options?: { encoding?: BufferEncoding; mode?: number },
    ) => Promise<void>;
  };
  export default storage;
}
