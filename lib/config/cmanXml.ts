// Import the member list of a cman /etc/cluster/cluster.conf (RHEL 5/6 XML) as an o2cb cluster.
//
// Mapping rules (also exported as MAPPING):
//   cluster name      <cluster name="…">, unchanged (o2cb then requires 1–16 letters/digits)
//   node number       <clusternode nodeid="N">: the o2cb number is N itself, not N − 1, so numbers
//                     match what the DLM, fencing and logs say; N must be 0–254, 255+ is an error
//   node name         clusternode name up to the first '.' (o2cb matches the local node by short
//                     host name); an IP-literal name is kept, with a warning
//   ip address        clusternode name when it is an IPv4 literal; a host name needs the caller's
//                     resolve map {name → IPv4}, otherwise it is reported as a gap; IPv6 is an error
//   port              7777 (cman has no o2net port) unless the caller passes one; a warning says so
//   ignored           votes, weight, altname (o2net uses one address), fence, dlm, totem, rm
// Every gap and error is collected and thrown together as one ConfigError with line:column.
//
// The XML is read with saxes in strict mode; a DOCTYPE is refused, so no entity is ever expanded.
import { createRequire } from 'node:module';
import type { SaxesParser as SaxesParserType } from 'saxes';

// saxes is loaded on first use: its Unicode tables cost about a second of start-up on a slow
// (emulated) CPU, and every o2stack command that reads a config would pay it otherwise.
let saxes: typeof SaxesParserType | undefined;
function SaxesParserClass(): typeof SaxesParserType {
  return (saxes ??= (createRequire(import.meta.url)('saxes') as { SaxesParser: typeof SaxesParserType }).SaxesParser);
}
import type { ClusterConfig, NodeConfig } from '../model/cluster.js';
import { IMPORT_MAPPING, IssueList, MAX_NESTING, importMember, makeLoc, warnImportPort, type ImportOptions, type ParseResult } from './common.js';

export const MAPPING = {
  clusterName: 'cluster/@name → ClusterConfig.name, unchanged',
  nodes: 'cluster/clusternodes/clusternode (@name, @nodeid) → one o2cb node each',
  ...IMPORT_MAPPING,
  ignored: 'votes, weight, altname (o2net uses a single address), fence, unfence, fencedevices, dlm, totem, rm',
} as const;

class TooManyXmlErrors extends Error {}
class TooDeep extends Error {}

interface Member {
  attrs: Record<string, string>;
  line: number;
  column: number;
}

/** Parses cman cluster.conf XML into one o2cb cluster. Throws ConfigError with every problem. */
export function parseCmanXml(text: string, opts: ImportOptions = {}): ParseResult {
  const issues = new IssueList(opts.file);
  const SaxesParser = SaxesParserClass();
  const parser = new SaxesParser({ xmlns: false, position: true });
  const stack: string[] = [];
  let cluster: { name?: string; line: number; column: number } | undefined;
  const members: Member[] = [];
  let xmlErrors = 0;
  let tagLine = 1;
  let tagColumn = 1;

  parser.on('error', (err) => {
    // saxes goes on after an error, making an Error (with a stack) for each: a broken tag repeated
    // over MB cost seconds. The eleventh ends the parse: nothing after it is read.
    if (xmlErrors++ >= 10) throw new TooManyXmlErrors();
    // saxes prefixes "line:column: "; keep our own fields instead.
    const m = /^(\d+):(\d+): (.*)$/s.exec(err.message);
    {
      issues.error(m ? { line: Number(m[1]), column: Number(m[2]) } : { line: parser.line, column: parser.column }, () => ({
        code: 'E_XML',
        message: `not well-formed XML: ${m ? m[3] : err.message}`,
        hint: 'fix the XML (xmllint --noout FILE shows the same problems)',
      }));
    }
  });
  parser.on('doctype', () => {
    issues.error({ line: parser.line, column: parser.column }, () => ({
      code: 'E_XML_DOCTYPE',
      message: 'a DOCTYPE declaration is not accepted in cluster.conf (entities are never expanded)',
      hint: 'remove the <!DOCTYPE …> line; cman never needed it',
    }));
  });
  parser.on('opentagstart', (tag) => {
    // Position of "<": saxes has read the name and the character after it; columns here are 1-based.
    tagLine = parser.line;
    tagColumn = Math.max(1, parser.column - tag.name.length - 1);
    if (stack.length >= MAX_NESTING) {
      issues.error({ line: tagLine, column: tagColumn }, () => ({
        code: 'E_XML_DEPTH',
        message: `<${tag.name}> is nested more than ${MAX_NESTING} elements deep (the rest of the file was not read)`,
        hint: 'cman cluster.conf nests about 10 elements deep at most; a closing tag is missing above',
      }));
      throw new TooDeep();
    }
  });
  parser.on('opentag', (tag) => {
    const parent = stack[stack.length - 1];
    if (stack.length === 0) {
      if (tag.name !== 'cluster') {
        issues.error({ line: tagLine, column: tagColumn }, () => ({ code: 'E_CMAN_ROOT', message: `the root element is <${tag.name}>, not <cluster>: this is not a cman cluster.conf`, hint: 'give the cman /etc/cluster/cluster.conf file' }));
      } else {
        cluster = { name: tag.attributes.name, line: tagLine, column: tagColumn };
      }
    } else if (tag.name === 'clusternode' && parent === 'clusternodes' && stack.length === 2 && cluster) {
      members.push({ attrs: { ...tag.attributes }, line: tagLine, column: tagColumn });
    }
    stack.push(tag.name);
  });
  parser.on('closetag', () => {
    stack.pop();
  });

  try {
    parser.write(text.replace(/^\uFEFF/, '')).close();
  } catch (e) {
    if (e instanceof TooDeep) {
      // reported where it was found
    } else if (e instanceof TooManyXmlErrors) issues.error(undefined, () => ({ code: 'E_XML', message: '… and more XML errors after these ten (the rest of the file was not read)', hint: 'fix the XML (xmllint --noout FILE shows the same problems)' }));
    // With an error handler installed saxes reports through it; this is a safety net.
    else issues.error(undefined, () => ({ code: 'E_XML', message: `not well-formed XML: ${(e as Error).message}` }));
  }
  issues.throwIfErrors();

  if (!cluster) {
    issues.error(1, () => ({ code: 'E_CMAN_ROOT', message: 'no <cluster> element found', hint: 'give the cman /etc/cluster/cluster.conf file' }));
    issues.throwIfErrors();
  }
  const c = cluster!;
  const loc = makeLoc(opts.file, c.line, c.column);
  if (c.name === undefined || c.name === '') {
    issues.error(loc, () => ({ code: 'E_CMAN_NAME', key: 'cluster.name', message: '<cluster> has no name attribute', hint: 'add name="…" (1–16 letters or digits for o2cb)' }));
  }
  if (members.length === 0) {
    issues.error(loc, () => ({ code: 'E_CMAN_NO_NODES', key: 'clusternodes', message: 'no <clusternode> elements under <cluster><clusternodes>', hint: 'the members are listed as <clusternodes><clusternode name="…" nodeid="…"/></clusternodes>' }));
  }
  const nodes: NodeConfig[] = [];
  for (const m of members) {
    const n = importMember({ kind: 'clusternode', name: m.attrs.name, nodeid: m.attrs.nodeid, addrKey: 'name', loc: makeLoc(opts.file, m.line, m.column) }, opts, issues);
    if (n) nodes.push(n);
  }
  issues.throwIfErrors();
  warnImportPort('cman cluster.conf', opts, issues, loc);
  const out: ClusterConfig = { name: c.name!, nodes, heartbeatMode: 'local', heartbeatRegions: [], timeouts: {}, loc };
  return { clusters: [out], warnings: issues.warnings };
}
