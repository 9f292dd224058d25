// A line diff of two texts (longest common subsequence), for versions side by side.

/**
 * Rows of [left line | null, right line | null, kind], kind "same", "removed", "added" or "changed". Between two
 * unchanged lines, the removed and the added lines are paired in order on "changed" rows; the surplus of either
 * side stays "removed" or "added".
 */
export function lineDiff(a, b) {
  const x = a.split("\n"),
    y = b.split("\n");
  if (x.length * y.length > 4_000_000)
    return x.map((line, i) => [line, y[i] ?? null, line === y[i] ? "same" : "changed"]);
  const n = x.length,
    m = y.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const rows = [];
  let removed = [],
    added = [];
  const flush = () => {
    for (let k = 0; k < Math.max(removed.length, added.length); k++) {
      const left = removed[k] ?? null,
        right = added[k] ?? null;
      rows.push([left, right, left === null ? "added" : right === null ? "removed" : "changed"]);
    }
    removed = [];
    added = [];
  };
  let i = 0,
    j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) {
      flush();
      rows.push([x[i++], y[j++], "same"]);
    } else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) added.push(y[j++]);
    else removed.push(x[i++]);
  }
  flush();
  return rows;
}
