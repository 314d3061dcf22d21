/**
 * The console's interaction, as a pure state machine: a key or the end of a run gives the next state and, at most,
 * one effect to perform. Every action goes dry-run → typed confirmation (the plan's name) → `--execute`; anything
 * else typed at the prompt refuses, and nothing runs.
 */
import type { Action } from '../../core/api/index.js';

export const ACTION_KEYS: Readonly<Record<string, Action>> = {
  p: 'prepare',
  s: 'shutdown',
  h: 'harbor-seed',
  u: 'startup',
};

export type Phase =
  | { name: 'idle' }
  | { name: 'dry-run'; action: Action }
  | { name: 'confirm'; action: Action; typed: string }
  | { name: 'execute'; action: Action };

export interface SessionState {
  phase: Phase;
  /** One line under the log pane: the prompt, or what just happened. */
  notice: string;
  planName: string;
}

export type Effect = { kind: 'run'; action: Action; execute: boolean } | { kind: 'quit' };

export interface KeyInfo {
  return?: boolean;
  escape?: boolean;
  backspace?: boolean;
  delete?: boolean;
  ctrl?: boolean;
}

export const IDLE_NOTICE = 'Choose an action: its dry-run is shown first, nothing changes until you confirm';

export function initialSession(planName: string): SessionState {
  return { phase: { name: 'idle' }, notice: IDLE_NOTICE, planName };
}

export function confirmPrompt(action: Action, planName: string, typed: string): string {
  return `Type "${planName}" + Enter to run ${action} --execute (Esc cancels): ${typed}`;
}

/** Control characters never become part of the typed name. */
function printable(text: string): string {
  return [...text].filter((c) => c >= ' ' && c !== '\x7f').join('');
}

function idle(state: SessionState, notice: string): SessionState {
  return { ...state, phase: { name: 'idle' }, notice };
}

function onConfirmKey(
  state: SessionState,
  phase: Extract<Phase, { name: 'confirm' }>,
  input: string,
  key: KeyInfo,
): { state: SessionState; effect?: Effect } {
  if (key.escape) return { state: idle(state, `Cancelled: ${phase.action} was not run`) };
  // NOTE: typed text and Enter can arrive in one read (a paste, a fast terminal): "atlas\r"
  const line = /^([^\r\n]*)[\r\n]/.exec(input);
  if (line && !key.return) {
    const typed = `${phase.typed}${printable(line[1] ?? '')}`;
    return onConfirmKey(state, { ...phase, typed }, '', { return: true });
  }
  if (key.return) {
    if (phase.typed === state.planName) {
      const next: SessionState = {
        ...state,
        phase: { name: 'execute', action: phase.action },
        notice: `Running ${phase.action} --execute…`,
      };
      return { state: next, effect: { kind: 'run', action: phase.action, execute: true } };
    }
    const typed = phase.typed === '' ? 'nothing' : `"${phase.typed}"`;
    return {
      state: idle(
        state,
        `Refused: you typed ${typed}, not the plan name "${state.planName}"; ${phase.action} was not run`,
      ),
    };
  }
  const typed =
    key.backspace || key.delete
      ? phase.typed.slice(0, -1)
      : key.ctrl
        ? phase.typed
        : `${phase.typed}${printable(input)}`;
  return {
    state: { ...state, phase: { ...phase, typed }, notice: confirmPrompt(phase.action, state.planName, typed) },
  };
}

/** A key press. Action keys work only when nothing runs; the prompt takes every printable key. */
export function onKey(state: SessionState, input: string, key: KeyInfo): { state: SessionState; effect?: Effect } {
  const { phase } = state;
  if (phase.name === 'confirm') return onConfirmKey(state, phase, input, key);
  if (phase.name !== 'idle') {
    if (input === 'q') return { state: { ...state, notice: `${phase.action} is running: wait for it to finish` } };
    return { state };
  }
  if (input === 'q') return { state, effect: { kind: 'quit' } };
  const action = ACTION_KEYS[input];
  if (!action) return { state };
  return {
    state: { ...state, phase: { name: 'dry-run', action }, notice: `Dry-run of ${action}…` },
    effect: { kind: 'run', action, execute: false },
  };
}

/** A run ended with `code` (0 done; see the exit codes). */
export function onRunEnd(state: SessionState, code: number): SessionState {
  const { phase } = state;
  if (phase.name === 'dry-run') {
    if (code !== 0) return idle(state, `The dry-run of ${phase.action} failed (exit ${code}): see the log`);
    return {
      ...state,
      phase: { name: 'confirm', action: phase.action, typed: '' },
      notice: confirmPrompt(phase.action, state.planName, ''),
    };
  }
  if (phase.name === 'execute') {
    return idle(
      state,
      code === 0
        ? `${phase.action} --execute finished (exit 0)`
        : `${phase.action} --execute stopped (exit ${code}): see the log`,
    );
  }
  return state;
}
