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

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * What changed between two definitions, node by node (matched by id) and field by field: rows of
 * {where, change, fields}, `where` a node id or "workflow", `change` "added", "removed" or "changed", `fields` the
 * names of the fields that differ (for a changed one).
 */
export function definitionDiff(a, b) {
  const rows = [];
  const fieldsOf = (x, y) =>
    [...new Set([...Object.keys(x), ...Object.keys(y)])].filter((k) => !same(x[k], y[k])).sort();
  const top = fieldsOf({ ...a, nodes: undefined }, { ...b, nodes: undefined }).filter((k) => k !== "nodes");
  if (top.length) rows.push({ where: "workflow", change: "changed", fields: top });
  const before = new Map(a.nodes.map((n) => [n.id, n]));
  const after = new Map(b.nodes.map((n) => [n.id, n]));
  for (const [id, node] of before) {
    if (!after.has(id)) rows.push({ where: id, change: "removed", fields: [] });
    else if (!same(node, after.get(id)))
      rows.push({ where: id, change: "changed", fields: fieldsOf(node, after.get(id)) });
  }
  for (const id of after.keys()) if (!before.has(id)) rows.push({ where: id, change: "added", fields: [] });
  return rows;
}
