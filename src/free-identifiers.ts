/**
 * Static analysis of a function's source text: which identifiers it reads that it does not declare
 * itself. A function whose only free identifiers are globals can be rebuilt from its source in a
 * worker thread; any other free identifier would be a ReferenceError (or worse, a different value)
 * there, so the caller refuses such a function before anything runs.
 */
import { createRequire } from 'node:module';

/**
 * acorn is loaded on the first analysis, not when joblib-ts is imported: programs that never send a
 * function to a worker do not pay for it.
 */
let parser: typeof import('acorn') | undefined;
function parseExpressionAt(...args: Parameters<typeof import('acorn').parseExpressionAt>) {
  parser ??= createRequire(import.meta.url)('acorn') as typeof import('acorn');
  return parser.parseExpressionAt(...args);
}

/** A node of the ESTree syntax tree that acorn produces (only the fields this module reads). */
interface EsNode {
  type: string;
  start: number;
  end: number;
  [key: string]: unknown;
}

/** What analysis found out about one function's source text. */
export interface SourceAnalysis {
  /** An expression that evaluates to the function (the source, or a method wrapped in an object literal). */
  readonly expression: string;
  /** `true` when `expression` is an object literal holding the function as its only property. */
  readonly isMethod: boolean;
  /** Identifiers read but not declared inside the function, in order of first appearance. */
  readonly free: readonly string[];
  /** Constructs whose meaning depends on where the function was defined: `this`, `super`, `import.meta`. */
  readonly contextual: readonly string[];
}

/** Why a source text cannot be analysed as a callable function. */
export class UnsupportedSourceError extends Error {}

interface Scope {
  readonly names: Set<string>;
  readonly parent: Scope | null;
}

const PARSE_OPTIONS = { ecmaVersion: 'latest', sourceType: 'module', allowAwaitOutsideFunction: false } as const;

/**
 * Parses `source` (what `Function.prototype.toString` returns) and lists its free identifiers.
 * @throws UnsupportedSourceError for native code, classes, accessors and text that is not a function
 */
export function analyzeFunctionSource(source: string): SourceAnalysis {
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw new UnsupportedSourceError('it is a native or bound function, whose source is not available');
  }
  const { root, expression, isMethod } = parseFunction(source);
  const analyzer = new FreeIdentifierCollector();
  analyzer.visitFunction(root, null, true);
  return { expression, isMethod, free: [...analyzer.free], contextual: [...analyzer.contextual] };
}

/**
 * The names of a function's parameters, in order; `undefined` for a destructured one. A rest
 * parameter is marked with a leading `...`.
 * @throws UnsupportedSourceError when the source is not a function
 */
export function parameterNames(source: string): (string | undefined)[] {
  const { root } = parseFunction(source);
  return (root['params'] as EsNode[]).map((param) => {
    const target = param.type === 'AssignmentPattern' ? (param['left'] as EsNode) : param;
    if (target.type === 'Identifier') return target['name'] as string;
    if (target.type === 'RestElement' && (target['argument'] as EsNode).type === 'Identifier') {
      return `...${(target['argument'] as EsNode)['name'] as string}`;
    }
    return undefined;
  });
}

function parseFunction(source: string): { root: EsNode; expression: string; isMethod: boolean } {
  const asExpression = tryParse(source);
  if (asExpression) {
    if (asExpression.type === 'ClassExpression') throw new UnsupportedSourceError('it is a class, which cannot be called');
    if (asExpression.type === 'FunctionExpression' || asExpression.type === 'ArrowFunctionExpression') {
      return { root: asExpression, expression: `(${source})`, isMethod: false };
    }
  }
  // Method shorthand (`name(x) {}`, `async *name() {}`, `[key]() {}`) is only valid inside an object literal.
  // The literal is parsed without the parentheses it is compiled with: acorn leaves parentheses out
  // of the node it returns, so `({...})` would seem to end before its closing `)`.
  const literal = `{${source}\n}`;
  const object = tryParse(literal);
  const property = object?.type === 'ObjectExpression' ? (object['properties'] as EsNode[])[0] : undefined;
  if (!property || (object?.['properties'] as EsNode[]).length !== 1 || property['method'] !== true) {
    if (property && (property['kind'] === 'get' || property['kind'] === 'set')) {
      throw new UnsupportedSourceError('it is a getter or setter, not a function to call');
    }
    throw new UnsupportedSourceError('its source text could not be parsed as a function');
  }
  const method = property['value'] as EsNode;
  if (!property['computed']) return { root: method, expression: `(${literal})`, isMethod: true };
  // A computed key would be evaluated again where the expression is compiled, in a worker, where the
  // names it reads may not exist. Calling the method does not need the key, so a string replaces it;
  // `method.start` is the opening parenthesis of the parameters, just after the key.
  const prefix = `${method['async'] ? 'async ' : ''}${method['generator'] ? '*' : ''}`;
  const keyNode = property['key'] as EsNode;
  const key = JSON.stringify(`[${literal.slice(keyNode.start, keyNode.end)}]`); // the name in stack traces
  return { root: method, expression: `({${prefix}${key}${literal.slice(method.start)})`, isMethod: true };
}

function tryParse(text: string): EsNode | undefined {
  try {
    const node = parseExpressionAt(text, 0, PARSE_OPTIONS) as unknown as EsNode;
    return text.slice(node.end).trim() === '' ? node : undefined;
  } catch {
    return undefined;
  }
}

const NOT_CHILDREN = new Set(['type', 'start', 'end', 'loc', 'range', 'raw', 'value', 'regex', 'bigint']);

class FreeIdentifierCollector {
  readonly free = new Set<string>();
  readonly contextual = new Set<string>();
  /** Whether `this`/`super`/`arguments` currently belong to a function inside the analysed one. */
  private ownThis = false;

  visitFunction(fn: EsNode, outer: Scope | null, isRoot: boolean): void {
    const scope: Scope = { names: new Set(), parent: outer };
    const isArrow = fn.type === 'ArrowFunctionExpression';
    const id = fn['id'] as EsNode | null;
    if (id && fn.type !== 'FunctionDeclaration') scope.names.add(id['name'] as string);
    if (!isArrow) scope.names.add('arguments');
    const params = fn['params'] as EsNode[];
    for (const param of params) collectBindingNames(param, scope.names);
    const body = fn['body'] as EsNode;
    // Parameter defaults cannot see the body's declarations: in `(a = b) => { var b }` the default
    // reads an outer `b`. So the body's names go in a scope of their own, inside the parameters'.
    const bodyScope: Scope = { names: new Set(), parent: scope };
    if (body.type === 'BlockStatement') {
      collectVarNames(body, bodyScope.names);
      collectLexicalNames(body['body'] as EsNode[], bodyScope.names);
    }
    const savedOwnThis = this.ownThis;
    if (!isArrow && !isRoot) this.ownThis = true;
    for (const param of params) this.visitBinding(param, scope);
    if (body.type === 'BlockStatement') this.visitStatements(body['body'] as EsNode[], bodyScope);
    else this.visit(body, bodyScope);
    this.ownThis = savedOwnThis;
  }

  private visitStatements(statements: EsNode[], scope: Scope): void {
    for (const statement of statements) this.visit(statement, scope);
  }

  private blockScope(parent: Scope, statements: EsNode[]): Scope {
    const scope: Scope = { names: new Set(), parent };
    collectLexicalNames(statements, scope.names);
    return scope;
  }

  private visit(node: EsNode | null | undefined, scope: Scope): void {
    if (!node) return;
    switch (node.type) {
      case 'Identifier':
        this.reference(node['name'] as string, scope);
        return;
      case 'ThisExpression':
        if (!this.ownThis) this.contextual.add('this');
        return;
      case 'Super':
        if (!this.ownThis) this.contextual.add('super');
        return;
      case 'MetaProperty':
        if ((node['meta'] as EsNode)['name'] === 'import') this.contextual.add('import.meta');
        return;
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
      case 'FunctionDeclaration':
        this.visitFunction(node, scope, false);
        return;
      case 'ClassDeclaration':
      case 'ClassExpression':
        this.visitClass(node, scope);
        return;
      case 'BlockStatement':
        this.visitStatements(node['body'] as EsNode[], this.blockScope(scope, node['body'] as EsNode[]));
        return;
      case 'StaticBlock': {
        // A class static block is a function body of its own: the `var`s declared in it stay in it.
        const inner = this.blockScope(scope, node['body'] as EsNode[]);
        collectVarNames(node, inner.names);
        this.visitStatements(node['body'] as EsNode[], inner);
        return;
      }
      case 'ForStatement':
      case 'ForInStatement':
      case 'ForOfStatement':
        this.visitLoop(node, scope);
        return;
      case 'SwitchStatement': {
        this.visit(node['discriminant'] as EsNode, scope);
        const cases = node['cases'] as EsNode[];
        const inner = this.blockScope(scope, cases.flatMap((c) => c['consequent'] as EsNode[]));
        for (const c of cases) {
          this.visit(c['test'] as EsNode | null, inner);
          this.visitStatements(c['consequent'] as EsNode[], inner);
        }
        return;
      }
      case 'CatchClause': {
        const inner: Scope = { names: new Set(), parent: scope };
        const param = node['param'] as EsNode | null;
        if (param) {
          collectBindingNames(param, inner.names);
          this.visitBinding(param, inner);
        }
        this.visit(node['body'] as EsNode, inner);
        return;
      }
      case 'VariableDeclaration':
        for (const declarator of node['declarations'] as EsNode[]) {
          this.visitBinding(declarator['id'] as EsNode, scope);
          this.visit(declarator['init'] as EsNode | null, scope);
        }
        return;
      case 'AssignmentExpression':
        this.visitTarget(node['left'] as EsNode, scope);
        this.visit(node['right'] as EsNode, scope);
        return;
      case 'MemberExpression':
        this.visit(node['object'] as EsNode, scope);
        if (node['computed']) this.visit(node['property'] as EsNode, scope);
        return;
      case 'Property':
      case 'PropertyDefinition':
      case 'MethodDefinition':
        if (node['computed']) this.visit(node['key'] as EsNode, scope);
        this.visit(node['value'] as EsNode | null, scope);
        return;
      case 'LabeledStatement':
        this.visit(node['body'] as EsNode, scope);
        return;
      case 'BreakStatement':
      case 'ContinueStatement':
        return;
      case 'UnaryExpression':
        // `typeof name` never throws, so a guard like `typeof window !== 'undefined'` is safe anywhere.
        if (node['operator'] === 'typeof' && (node['argument'] as EsNode).type === 'Identifier') return;
        this.visit(node['argument'] as EsNode, scope);
        return;
      default:
        this.visitChildren(node, scope);
    }
  }

  private visitChildren(node: EsNode, scope: Scope): void {
    for (const key of Object.keys(node)) {
      if (NOT_CHILDREN.has(key)) continue;
      const child = node[key];
      if (Array.isArray(child)) {
        for (const item of child) if (isNode(item)) this.visit(item, scope);
      } else if (isNode(child)) {
        this.visit(child, scope);
      }
    }
  }

  private visitLoop(node: EsNode, scope: Scope): void {
    const inner: Scope = { names: new Set(), parent: scope };
    const head = (node['init'] ?? node['left']) as EsNode | null;
    if (head?.type === 'VariableDeclaration' && head['kind'] !== 'var') {
      for (const d of head['declarations'] as EsNode[]) collectBindingNames(d['id'] as EsNode, inner.names);
    }
    if (node.type === 'ForStatement') {
      this.visit(head, inner);
      this.visit(node['test'] as EsNode | null, inner);
      this.visit(node['update'] as EsNode | null, inner);
    } else {
      if (head?.type === 'VariableDeclaration') this.visit(head, inner);
      else if (head) this.visitTarget(head, inner);
      this.visit(node['right'] as EsNode, inner);
    }
    this.visit(node['body'] as EsNode, inner);
  }

  private visitClass(node: EsNode, scope: Scope): void {
    const inner: Scope = { names: new Set(), parent: scope };
    const id = node['id'] as EsNode | null;
    if (id) inner.names.add(id['name'] as string);
    this.visit(node['superClass'] as EsNode | null, scope);
    const saved = this.ownThis;
    for (const member of (node['body'] as EsNode)['body'] as EsNode[]) {
      // A computed key is evaluated where the class is defined, with the enclosing `this`.
      if (member['computed']) this.visit(member['key'] as EsNode, inner);
      this.ownThis = true; // inside a class body `this` and `super` belong to the class
      if (member.type === 'StaticBlock') this.visit(member, inner);
      else this.visit(member['value'] as EsNode | null, inner);
      this.ownThis = saved;
    }
  }

  /** A binding pattern being declared: its names are not references, but defaults and computed keys are. */
  private visitBinding(pattern: EsNode, scope: Scope): void {
    this.visitPattern(pattern, scope, false);
  }

  /** The target of an assignment: identifiers in it are written, which makes them free if undeclared. */
  private visitTarget(target: EsNode, scope: Scope): void {
    this.visitPattern(target, scope, true);
  }

  /**
   * Walks a pattern: defaults and computed keys are always read; its identifiers are references only
   * when it is assigned to (`writes`), not when it declares them.
   */
  private visitPattern(pattern: EsNode, scope: Scope, writes: boolean): void {
    switch (pattern.type) {
      case 'Identifier':
        if (writes) this.visit(pattern, scope);
        return;
      case 'AssignmentPattern':
        this.visitPattern(pattern['left'] as EsNode, scope, writes);
        this.visit(pattern['right'] as EsNode, scope);
        return;
      case 'RestElement':
        this.visitPattern(pattern['argument'] as EsNode, scope, writes);
        return;
      case 'ArrayPattern':
        for (const element of pattern['elements'] as (EsNode | null)[]) if (element) this.visitPattern(element, scope, writes);
        return;
      case 'ObjectPattern':
        for (const property of pattern['properties'] as EsNode[]) {
          if (property.type === 'RestElement') this.visitPattern(property, scope, writes);
          else {
            if (property['computed']) this.visit(property['key'] as EsNode, scope);
            this.visitPattern(property['value'] as EsNode, scope, writes);
          }
        }
        return;
      default:
        this.visit(pattern, scope); // a member expression target, or anything else: read as an expression
    }
  }

  private reference(name: string, scope: Scope): void {
    for (let s: Scope | null = scope; s; s = s.parent) if (s.names.has(name)) return;
    this.free.add(name);
  }
}

function isNode(value: unknown): value is EsNode {
  return typeof value === 'object' && value !== null && typeof (value as EsNode).type === 'string';
}

/** Adds the names a binding pattern declares. */
function collectBindingNames(pattern: EsNode, into: Set<string>): void {
  switch (pattern.type) {
    case 'Identifier':
      into.add(pattern['name'] as string);
      return;
    case 'AssignmentPattern':
      collectBindingNames(pattern['left'] as EsNode, into);
      return;
    case 'RestElement':
      collectBindingNames(pattern['argument'] as EsNode, into);
      return;
    case 'ArrayPattern':
      for (const element of pattern['elements'] as (EsNode | null)[]) if (element) collectBindingNames(element, into);
      return;
    case 'ObjectPattern':
      for (const property of pattern['properties'] as EsNode[]) {
        collectBindingNames((property.type === 'RestElement' ? property : property['value']) as EsNode, into);
      }
      return;
  }
}

/** Adds the names `var` declares anywhere in a function body (they are function-scoped), not crossing functions. */
function collectVarNames(node: EsNode, into: Set<string>): void {
  if (node.type === 'VariableDeclaration' && node['kind'] === 'var') {
    for (const d of node['declarations'] as EsNode[]) collectBindingNames(d['id'] as EsNode, into);
  }
  for (const key of Object.keys(node)) {
    if (NOT_CHILDREN.has(key)) continue;
    const child = node[key];
    const children = Array.isArray(child) ? child : [child];
    for (const item of children) {
      if (!isNode(item)) continue;
      if (/Function|Class/.test(item.type)) continue;
      collectVarNames(item, into);
    }
  }
}

/** Adds the names that statements of one block declare for the whole block: let, const, class, function. */
function collectLexicalNames(statements: EsNode[], into: Set<string>): void {
  for (const statement of statements) {
    if (statement.type === 'VariableDeclaration' && statement['kind'] !== 'var') {
      for (const d of statement['declarations'] as EsNode[]) collectBindingNames(d['id'] as EsNode, into);
    } else if (statement.type === 'FunctionDeclaration' || statement.type === 'ClassDeclaration') {
      const id = statement['id'] as EsNode | null;
      if (id) into.add(id['name'] as string);
    }
  }
}
