/**
 * `hecate completion bash|zsh|fish`: shell completion generated from commander's own command tree, so a new command
 * or flag completes without touching this file. The script is static (the tree is written into it), as the shells'
 * own completions are: a TAB never starts Node. What a flag's value completes to comes from the option itself:
 * commander's `choices` list the words, an argument named `<file>` or `<dir>` completes paths, anything else nothing.
 */
import type { Command, Option } from 'commander';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** What a flag's value completes to; absent when the flag takes no value. */
type ValueKind = { kind: 'file' } | { kind: 'dir' } | { kind: 'words'; words: readonly string[] } | { kind: 'any' };

interface Flag {
  short?: string;
  long?: string;
  description: string;
  value?: ValueKind;
}

interface Node {
  /** Subcommand names from the root, e.g. [] for `hecate`, ['bundle', 'build']. */
  path: readonly string[];
  description: string;
  commands: readonly { name: string; description: string }[];
  /** Words its arguments take (commander's `choices`), such as `completion`'s shells. */
  words: readonly string[];
  /** The command's own flags, its ancestors' (the global ones) and help. */
  flags: readonly Flag[];
}

function valueKind(option: Option): ValueKind | undefined {
  if (!option.required && !option.optional) return undefined;
  if (option.argChoices) return { kind: 'words', words: option.argChoices };
  const arg = /<([^>.]+)(\.\.\.)?>|\[([^\].]+)(\.\.\.)?\]/.exec(option.flags);
  const name = arg?.[1] ?? arg?.[3];
  if (name === 'file') return { kind: 'file' };
  if (name === 'dir') return { kind: 'dir' };
  return { kind: 'any' };
}

function flagOf(option: Option): Flag {
  const value = valueKind(option);
  return {
    ...(option.short ? { short: option.short } : {}),
    ...(option.long ? { long: option.long } : {}),
    description: option.description,
    ...(value ? { value } : {}),
  };
}

const HELP: Flag = { short: '-h', long: '--help', description: 'display help for command' };

/** Every command of the tree, depth first, with the flags each accepts. */
export function completionTree(program: Command): Node[] {
  const nodes: Node[] = [];
  const walk = (command: Command, path: string[], inherited: Flag[]) => {
    const own = command.options.filter((o) => !o.hidden).map(flagOf);
    const flags = [...own, ...inherited];
    const commands = command.commands.map((c) => ({ name: c.name(), description: c.description() }));
    const words = command.registeredArguments.flatMap((a) => a.argChoices ?? []);
    nodes.push({ path, description: command.description(), commands, words, flags: [...flags, HELP] });
    // NOTE: only the root's options are global (commander reads them after any subcommand); --version is the root's
    const passed = path.length === 0 ? own.filter((f) => f.long !== '--version') : inherited;
    for (const sub of command.commands) walk(sub, [...path, sub.name()], passed);
  };
  walk(program, [], []);
  return nodes;
}

export function completionScript(shell: Shell, program: Command): string {
  const name = program.name();
  const nodes = completionTree(program);
  if (shell === 'bash') return bashScript(name, nodes);
  if (shell === 'zsh') return zshScript(name, nodes);
  return fishScript(name, nodes);
}

const names = (flag: Flag) => [flag.short, flag.long].filter((n): n is string => n !== undefined);
/** A word as a single-quoted shell string. */
const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
const fnName = (name: string) => name.replace(/[^A-Za-z0-9_]/g, '_');

/** `case` arms shared by bash and zsh: commands, flags and each flag's value kind, keyed by the command path. */
function dataFunctions(fn: string, nodes: readonly Node[]): string {
  const arm = (key: string, body: string) => `    ${quote(key)}) ${body} ;;`;
  const commands = nodes
    .filter((n) => n.commands.length + n.words.length > 0)
    .map((n) => arm(n.path.join(' '), `echo ${quote([...n.commands.map((c) => c.name), ...n.words].join(' '))}`));
  const flags = nodes.map((n) => arm(n.path.join(' '), `echo ${quote(n.flags.flatMap(names).join(' '))}`));
  const values = nodes.flatMap((n) =>
    n.flags.flatMap((f) => {
      if (!f.value) return [];
      const v = f.value;
      const said = v.kind === 'words' ? `words:${v.words.join(' ')}` : v.kind;
      return names(f).map((flag) => arm(`${n.path.join(' ')}|${flag}`, `echo ${quote(said)}`));
    }),
  );
  return [
    `# The command tree: subcommands and flags of each command path, and what each flag's value completes to.`,
    `${fn}_commands() {\n  case "$1" in\n${commands.join('\n')}\n  esac\n}`,
    `${fn}_flags() {\n  case "$1" in\n${flags.join('\n')}\n  esac\n}`,
    `${fn}_value() {\n  case "$1|$2" in\n${values.join('\n')}\n  esac\n}`,
  ].join('\n');
}

function bashScript(name: string, nodes: readonly Node[]): string {
  const fn = `_${fnName(name)}`;
  return `# bash completion for ${name}, generated by \`${name} completion bash\`. Load it in this shell:
#   source <(${name} completion bash)
# or for every shell: ${name} completion bash > ~/.local/share/bash-completion/completions/${name}
${dataFunctions(fn, nodes)}

${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" cmd="" word kind i given=0
  # the command path: the words before the cursor that name subcommands, past flags and their values
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if [[ $word == -* ]]; then
      if [[ \${COMP_WORDS[i + 1]} == "=" ]]; then
        ((i += 2))
      elif [[ -n $(${fn}_value "$cmd" "$word") ]]; then
        ((i += 1))
      fi
      continue
    fi
    if [[ -n $(${fn}_flags "\${cmd:+$cmd }$word") ]]; then cmd="\${cmd:+$cmd }$word"; else given=1; fi
  done
  # --flag=value: bash splits it at "=" (COMP_WORDBREAKS)
  if [[ $cur == "=" ]]; then
    cur="" prev="\${COMP_WORDS[COMP_CWORD - 1]}"
  elif ((COMP_CWORD >= 2)) && [[ \${COMP_WORDS[COMP_CWORD - 1]} == "=" ]]; then
    prev="\${COMP_WORDS[COMP_CWORD - 2]}"
  elif ((COMP_CWORD >= 1)); then
    prev="\${COMP_WORDS[COMP_CWORD - 1]}"
  fi
  if [[ $prev == -* ]]; then
    kind=$(${fn}_value "$cmd" "$prev")
    case "$kind" in
      file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
      dir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return ;;
      words:*) mapfile -t COMPREPLY < <(compgen -W "\${kind#words:}" -- "$cur"); return ;;
      any) COMPREPLY=(); return ;;
    esac
  fi
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(${fn}_flags "$cmd")" -- "$cur")
  elif ((!given)); then
    mapfile -t COMPREPLY < <(compgen -W "$(${fn}_commands "$cmd")" -- "$cur")
  fi
}

complete -F ${fn} ${name}
`;
}

function zshScript(name: string, nodes: readonly Node[]): string {
  const fn = `_${fnName(name)}`;
  const describe = (items: readonly { name: string; description: string }[]) =>
    items.map((i) => quote(`${i.name.replace(/:/g, '\\:')}:${i.description.split('\n')[0] ?? ''}`)).join(' ');
  const described = nodes
    .filter((n) => n.commands.length + n.words.length > 0)
    .map((n) => {
      const words = n.words.map((w) => ({ name: w, description: '' }));
      return `    ${quote(n.path.join(' '))}) described=(${describe([...n.commands, ...words])}) ;;`;
    });
  return `#compdef ${name}
# zsh completion for ${name}, generated by \`${name} completion zsh\`. Load it in this shell:
#   source <(${name} completion zsh)
# or for every shell: ${name} completion zsh > "\${fpath[1]}/_${name}"
${dataFunctions(fn, nodes)}

${fn}() {
  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}" cmd="" word kind i given=0
  local -a described
  for ((i = 2; i < CURRENT; i++)); do
    word="\${words[i]}"
    if [[ $word == -* ]]; then
      [[ $word != *=* && -n $(${fn}_value "$cmd" "$word") ]] && ((i += 1))
      continue
    fi
    if [[ -n $(${fn}_flags "\${cmd:+$cmd }$word") ]]; then cmd="\${cmd:+$cmd }$word"; else given=1; fi
  done
  if [[ $cur == --*=* ]]; then
    prev="\${cur%%=*}"
    compset -P '*='
  elif [[ $prev != -* ]]; then
    prev=""
  fi
  if [[ -n $prev ]]; then
    kind=$(${fn}_value "$cmd" "$prev")
    case "$kind" in
      file) _files; return ;;
      dir) _files -/; return ;;
      words:*) compadd -- \${=kind#words:}; return ;;
      any) return 1 ;;
    esac
  fi
  if [[ $cur == -* ]]; then
    compadd -- \${=$(${fn}_flags "$cmd")}
    return
  fi
  (( given )) && return 1
  case "$cmd" in
${described.join('\n')}
  esac
  (( \${#described} )) && _describe -t commands '${name} command' described
}

if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${name}
fi
`;
}

function fishScript(name: string, nodes: readonly Node[]): string {
  const all = nodes.flatMap((n) => n.commands.map((c) => c.name));
  const lines = [
    `# fish completion for ${name}, generated by \`${name} completion fish\`. Load it in this shell:`,
    `#   ${name} completion fish | source`,
    `# or for every shell: ${name} completion fish > ~/.config/fish/completions/${name}.fish`,
    `complete -c ${name} -f`,
  ];
  /** True when the words typed so far name exactly this command path (and nothing deeper). */
  const at = (path: readonly string[]) => {
    if (path.length === 0) return `not __fish_seen_subcommand_from ${all.join(' ')}`;
    const deeper = nodes.filter((n) => n.path.length > path.length && n.path[path.length - 1] === path.at(-1));
    const below = deeper.map((n) => n.path.at(-1));
    return [
      ...path.map((p) => `__fish_seen_subcommand_from ${p}`),
      ...(below.length ? [`not __fish_seen_subcommand_from ${below.join(' ')}`] : []),
    ].join('; and ');
  };
  for (const node of nodes) {
    const when = quote(at(node.path));
    if (node.words.length > 0) lines.push(`complete -c ${name} -n ${when} -a ${quote(node.words.join(' '))}`);
    for (const c of node.commands) {
      lines.push(`complete -c ${name} -n ${when} -a ${quote(c.name)} -d ${quote(c.description.split('\n')[0] ?? '')}`);
    }
    for (const flag of node.flags) {
      const opts = [
        flag.short ? `-s ${flag.short.slice(1)}` : '',
        flag.long ? `-l ${flag.long.slice(2)}` : '',
        flag.value?.kind === 'file' ? '-r -F' : '',
        flag.value?.kind === 'dir' ? `-x -a ${quote('(__fish_complete_directories)')}` : '',
        flag.value?.kind === 'words' ? `-x -a ${quote(flag.value.words.join(' '))}` : '',
        flag.value?.kind === 'any' ? '-x' : '',
      ].filter(Boolean);
      lines.push(`complete -c ${name} -n ${when} ${opts.join(' ')} -d ${quote(flag.description.split('\n')[0] ?? '')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
