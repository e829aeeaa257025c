// Reading a file the user named (a configuration, a members list): a regular file of bounded size.
// A FIFO would block the read forever and /dev/zero never ends; both are refused before a byte is
// read (opened O_NONBLOCK, so that even opening a FIFO does not wait for a writer).
import { closeSync, constants as C, fstatSync, openSync, readSync } from 'node:fs';

export const MAX_INPUT_BYTES = 4 * 1024 * 1024;

export class InputFileError extends Error {
  constructor(
    readonly code: 'E_NOT_A_FILE' | 'E_TOO_LARGE',
    message: string,
    readonly path: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** The file's text; InputFileError when it is not a regular file or is larger than maxBytes; fs errors as they are. */
export function readInputFile(path: string, maxBytes = MAX_INPUT_BYTES): string {
  const fd = openSync(path, C.O_RDONLY | C.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'not a regular file';
      if (st.isDirectory()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${path}'`), { code: 'EISDIR', errno: -21, syscall: 'read', path });
      throw new InputFileError('E_NOT_A_FILE', `${path} is ${kind}, not a regular file`, path, 'give the path of a regular file');
    }
    if (st.size > maxBytes) throw new InputFileError('E_TOO_LARGE', `${path} is ${st.size} bytes: more than the ${maxBytes} read at the most`, path, 'give the right file (configurations are a few kilobytes)');
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    // the size can change while it is read: never more than maxBytes
    for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    if (n > maxBytes) throw new InputFileError('E_TOO_LARGE', `${path} grew past ${maxBytes} bytes while it was read`, path, 'give the right file');
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
