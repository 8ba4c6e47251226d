// A strict parser of the Prometheus text exposition format 0.0.4, for the metrics tests.
// The npm parsers tried (parse-prometheus-text-format 1.1.1) accept malformed lines
// (an unclosed label value, a value of "x", a sample with four numbers), so this one
// throws on anything the format does not allow, with the line number:
//   - "# HELP name text" (escapes \\ and \n) and "# TYPE name type" at most once per
//     name, TYPE before the family's first sample; other "#" lines are comments;
//   - samples `name{label="value",...} value [timestamp]` with valid names, label values
//     escaped as \\ \" \n only, no label twice, a float value (NaN, +Inf, -Inf allowed),
//     an integer timestamp; no series twice; a family's samples not interleaved with
//     another family's;
//   - histograms: only _bucket (with le), _sum and _count samples; per label set the
//     le values increasing, the counts cumulative, a +Inf bucket equal to _count.
// Returns Map(family name -> { name, type, help, samples: [{ name, labels, value }] }).

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf|NaN)$/;

function parseFloatStrict(text, where) {
  if (!FLOAT.test(text)) throw new Error(`${where}: "${text}" is not a float`);
  if (/Inf$/.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/NaN$/.test(text)) return NaN;
  return Number(text);
}

function unescapeHelp(text, where) {
  return text.replace(/\\(.?)/g, (_, c) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`${where}: bad escape \\${c} in HELP`);
  });
}

// Parses `{a="x",b="y"}` starting at text[0] === '{'; returns [labels, rest].
function parseLabels(text, where) {
  const labels = {};
  let i = 1;
  const skipSpaces = () => { while (text[i] === ' ' || text[i] === '\t') i++; };
  for (;;) {
    skipSpaces();
    if (text[i] === '}') return [labels, text.slice(i + 1)];
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    if (!m) throw new Error(`${where}: expected a label name at "${text.slice(i, i + 20)}"`);
    const name = m[0];
    i += name.length;
    skipSpaces();
    if (text[i] !== '=') throw new Error(`${where}: expected = after label ${name}`);
    i++;
    skipSpaces();
    if (text[i] !== '"') throw new Error(`${where}: label ${name}'s value is not quoted`);
    i++;
    let value = '';
    for (;;) {
      if (i >= text.length) throw new Error(`${where}: unterminated value of label ${name}`);
      const c = text[i++];
      if (c === '"') break;
      if (c === '\n') throw new Error(`${where}: raw newline in label ${name}`);
      if (c === '\\') {
        const e = text[i++];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw new Error(`${where}: bad escape \\${e} in label ${name}`);
      } else {
        value += c;
      }
    }
    if (name in labels) throw new Error(`${where}: label ${name} twice`);
    labels[name] = value;
    skipSpaces();
    if (text[i] === ',') { i++; continue; }
    if (text[i] === '}') return [labels, text.slice(i + 1)];
    throw new Error(`${where}: expected , or } after label ${name}`);
  }
}

const seriesKey = (name, labels) =>
  `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;

// The family a sample belongs to: a histogram's _bucket/_sum/_count belong to its base.
function familyOf(name, families) {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      const f = families.get(base);
      if (f && (f.type === 'histogram' || f.type === 'summary')) return base;
    }
  }
  return name;
}

function checkHistogram(f) {
  const groups = new Map();
  for (const s of f.samples) {
    const suffix = s.name.slice(f.name.length);
    if (!['_bucket', '_sum', '_count'].includes(suffix)) throw new Error(`histogram ${f.name} has sample ${s.name}`);
    const { le, ...rest } = s.labels;
    if (suffix === '_bucket' && le === undefined) throw new Error(`${s.name} without le`);
    if (suffix !== '_bucket' && le !== undefined) throw new Error(`${s.name} with le`);
    const key = seriesKey('', rest);
    if (!groups.has(key)) groups.set(key, { buckets: [], sum: undefined, count: undefined, labels: rest });
    const g = groups.get(key);
    if (suffix === '_bucket') g.buckets.push([parseFloatStrict(le, `${s.name} le`), s.value]);
    else if (suffix === '_sum') g.sum = s.value;
    else g.count = s.value;
  }
  for (const [key, g] of groups) {
    if (g.sum === undefined || g.count === undefined) throw new Error(`histogram ${f.name}${key}: no _sum or _count`);
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i][0] > g.buckets[i - 1][0])) throw new Error(`histogram ${f.name}${key}: le not increasing`);
      if (g.buckets[i][1] < g.buckets[i - 1][1]) throw new Error(`histogram ${f.name}${key}: buckets not cumulative`);
    }
    const last = g.buckets[g.buckets.length - 1];
    if (!last || last[0] !== Infinity) throw new Error(`histogram ${f.name}${key}: no +Inf bucket`);
    if (last[1] !== g.count) throw new Error(`histogram ${f.name}${key}: +Inf bucket ${last[1]} != _count ${g.count}`);
  }
  f.series = [...groups.values()];
}

export function parsePrometheus(text) {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the text does not end with a newline');
  const families = new Map();
  const seen = new Set();
  const closed = new Set(); // families whose samples are over: another family's started
  let current = null;
  const family = (name) => {
    if (!families.has(name)) families.set(name, { name, type: 'untyped', help: undefined, typed: false, samples: [] });
    return families.get(name);
  };
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, idx) => {
    const where = `line ${idx + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (!m) return; // a comment
      const [, kind, name, rest = ''] = m;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name ${name}`);
      const f = family(name);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`${where}: second HELP for ${name}`);
        f.help = unescapeHelp(rest, where);
      } else {
        if (f.typed) throw new Error(`${where}: second TYPE for ${name}`);
        if (f.samples.length) throw new Error(`${where}: TYPE for ${name} after its samples`);
        if (!TYPES.has(rest.trim())) throw new Error(`${where}: unknown type "${rest}"`);
        f.type = rest.trim();
        f.typed = true;
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)$/.exec(line);
    if (!m) throw new Error(`${where}: not a sample: ${line}`);
    const name = m[1];
    let rest = m[2];
    let labels = {};
    if (rest.startsWith('{')) [labels, rest] = parseLabels(rest, where);
    for (const l of Object.keys(labels)) if (!LABEL_NAME.test(l)) throw new Error(`${where}: bad label name ${l}`);
    const parts = rest.trim().split(/[ \t]+/);
    if (!/^[ \t]/.test(rest) || parts.length < 1 || parts.length > 2 || parts[0] === '')
      throw new Error(`${where}: expected "value [timestamp]" after ${name}, got "${rest}"`);
    const value = parseFloatStrict(parts[0], where);
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp ${parts[1]}`);
    const key = seriesKey(name, labels);
    if (seen.has(key)) throw new Error(`${where}: series ${key} twice`);
    seen.add(key);
    const fname = familyOf(name, families);
    if (closed.has(fname)) throw new Error(`${where}: ${fname}'s samples are not together`);
    if (current !== null && current !== fname) closed.add(current);
    current = fname;
    family(fname).samples.push({ name, labels, value });
  });
  for (const f of families.values()) {
    if (f.type === 'histogram') checkHistogram(f);
    if (f.type === 'counter' || f.type === 'gauge' || f.type === 'untyped')
      for (const s of f.samples) if (s.name !== f.name) throw new Error(`${f.type} ${f.name} has sample ${s.name}`);
  }
  return families;
}

// The value of one series (labels must match exactly, le aside); undefined when absent.
export function sampleValue(families, name, labels = {}) {
  const want = seriesKey(name, labels);
  for (const f of families.values())
    for (const s of f.samples) if (seriesKey(s.name, s.labels) === want) return s.value;
  return undefined;
}
