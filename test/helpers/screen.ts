// A minimal terminal, to see what a person would see after a stream of bytes: text, CR, LF (as CR LF,
// what a terminal's output processing makes of it), cursor up (ESC [ n A), erase line (ESC [ 2K, ESC [ K)
// and erase to the end of the screen (ESC [ J); lines wrap at `columns`. Other escape sequences are ignored.

/** The rows on the screen after `bytes`, trailing spaces removed, trailing empty rows dropped. */
export function screen(bytes: string, columns: number): string[] {
  const rows: string[][] = [[]];
  let row = 0;
  let col = 0;
  const current = (): string[] => {
    while (rows.length <= row) rows.push([]);
    return rows[row] as string[];
  };
  const chars = [...bytes];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '\x1b' && chars[i + 1] === '[') {
      let j = i + 2;
      let params = '';
      while (j < chars.length && /[0-9;?]/.test(chars[j] as string)) params += chars[j++];
      const command = chars[j];
      i = j;
      const n = params === '' ? 1 : Number(params.split(';')[0]);
      if (command === 'A') row = Math.max(0, row - n);
      else if (command === 'K') {
        const line = current();
        if (params === '2') line.length = 0;
        else line.length = Math.min(line.length, col);
      } else if (command === 'J' && (params === '' || params === '0')) {
        const line = current();
        line.length = Math.min(line.length, col);
        rows.length = row + 1;
      }
      continue;
    }
    if (c === '\r') col = 0;
    else if (c === '\n') {
      row += 1;
      col = 0;
    } else if (c >= ' ') {
      if (col >= columns) {
        row += 1;
        col = 0;
      }
      const line = current();
      while (line.length < col) line.push(' ');
      line[col] = c;
      col += 1;
    }
  }
  const text = rows.map((r) => r.join('').trimEnd());
  while (text.length > 0 && text.at(-1) === '') text.pop();
  return text;
}
