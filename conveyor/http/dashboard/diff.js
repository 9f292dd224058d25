// A line diff of two texts (longest common subsequence), for versions side by side.

/** Rows of [left line | null, right line | null, kind] where kind is "same", "removed", "added" or "changed". */
export function lineDiff(a, b) {
  const x = a.split("\n"), y = b.split("\n");
  if (x.length * y.length > 4_000_000) return x.map((line, i) => [line, y[i] ?? null, line === y[i] ? "same" : "changed"]);
  const n = x.length, m = y.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const rows = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) rows.push([x[i++], y[j++], "same"]);
    else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) rows.push([null, y[j++], "added"]);
    else rows.push([x[i++], null, "removed"]);
  }
  return rows;
}
