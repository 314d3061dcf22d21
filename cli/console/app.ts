/**
 * `hecate console` on Ink (React for terminals): the status panel refreshed from watches, a log pane with the
 * running action's output, and a prompt line. Keyboard only; laid out for the terminal's size (80×24 and up).
 *
 * NOTE: written with createElement, not JSX, so the project needs no JSX build settings.
 */
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import { createElement as h, useCallback, useEffect, useRef, useState } from 'react';
import type { Action } from '../../core/api/index.js';
import type { StatusReport } from '../status/model.js';
import type { ChangeFeed, StatusPart } from '../status/watch.js';
import { type Effect, initialSession, type KeyInfo, onKey, onRunEnd, type SessionState } from './session.js';
import { clip, KEYS_HELP, statusPanel } from './view.js';

export interface ConsoleProps {
  planName: string;
  collect(parts?: ReadonlySet<StatusPart>): Promise<StatusReport>;
  startFeed(onChange: (parts: ReadonlySet<StatusPart>) => void): ChangeFeed;
  /** Runs `hecate <action> [--execute]` in this process; each output line goes to `onLine`; resolves the exit code. */
  runAction(action: Action, execute: boolean, onLine: (line: string) => void): Promise<number>;
  now(): Date;
}

const MAX_LOG = 2_000;
const clockOf = (d: Date) => d.toISOString().slice(11, 19);

/** Keeps the status fresh: one read now, then one per burst of changes, never two at once. */
function useStatus(props: ConsoleProps): [StatusReport | undefined, string, () => void] {
  const [report, setReport] = useState<StatusReport>();
  const [updated, setUpdated] = useState('');
  const queue = useRef(Promise.resolve());
  const refresh = useCallback(
    (parts?: ReadonlySet<StatusPart>) => {
      queue.current = queue.current.then(async () => {
        try {
          setReport(await props.collect(parts));
          setUpdated(clockOf(props.now()));
        } catch {
          // the collector never throws for what it observes; keep the last screen otherwise
        }
      });
    },
    [props],
  );
  useEffect(() => {
    refresh();
    const feed = props.startFeed((parts) => refresh(parts));
    return () => feed.stop();
  }, [props, refresh]);
  return [report, updated, () => refresh()];
}

function useLog(): [string[], (line: string) => void] {
  const [log, setLog] = useState<string[]>([]);
  const append = useCallback((line: string) => {
    const clean = line.replace(/\t/g, '  ').replace(/\r/g, '');
    setLog((old) => [...old, clean].slice(-MAX_LOG));
  }, []);
  return [log, append];
}

export function ConsoleApp(props: ConsoleProps) {
  const { exit } = useApp();
  const { stdout } = useStdout();
  const width = Math.max(40, stdout.columns ?? 80);
  const rows = Math.max(16, stdout.rows ?? 24);
  const [report, updated, refresh] = useStatus(props);
  const [log, append] = useLog();
  const [scroll, setScroll] = useState(0);
  // NOTE: keys can arrive faster than renders: the session lives in a ref, the state only redraws it
  const session = useRef<SessionState>(initialSession(props.planName));
  const [, setSession] = useState<SessionState>(session.current);
  const update = (next: SessionState) => {
    session.current = next;
    setSession(next);
  };

  const perform = (effect: Effect | undefined) => {
    if (!effect) return;
    if (effect.kind === 'quit') {
      exit();
      return;
    }
    const { action, execute } = effect;
    append(
      `── ${action} ${execute ? '--execute' : '(dry-run)'} ${'─'.repeat(Math.max(0, width - action.length - 16))}`,
    );
    setScroll(0);
    void props.runAction(action, execute, append).then((code) => {
      append(`── exit ${code}`);
      update(onRunEnd(session.current, code));
      refresh();
    });
  };

  const panel = statusPanel(report, width, updated);
  const logRows = rows - 1 - panel.length - 4; // NOTE: one row short of the screen, or Ink clears it on every frame
  useInput((input, key) => {
    const page = Math.max(1, logRows - 1);
    if (key.upArrow || key.pageUp) {
      setScroll((s) => Math.min(Math.max(0, log.length - logRows), s + (key.pageUp ? page : 1)));
      return;
    }
    if (key.downArrow || key.pageDown) {
      setScroll((s) => Math.max(0, s - (key.pageDown ? page : 1)));
      return;
    }
    const info: KeyInfo = {
      return: key.return,
      escape: key.escape,
      backspace: key.backspace,
      delete: key.delete,
      ctrl: key.ctrl,
    };
    const next = onKey(session.current, input, info);
    update(next.state);
    perform(next.effect);
  });

  const end = log.length - scroll;
  const visible = log.slice(Math.max(0, end - logRows), end);
  const padded = [...visible, ...Array.from({ length: Math.max(0, logRows - visible.length) }, () => '')];
  const color = report?.health === 'healthy' ? 'green' : report?.health === 'degraded' ? 'yellow' : 'red';
  const rule = (label: string) => `── ${label} ${'─'.repeat(Math.max(0, width - label.length - 4))}`;
  const scrolled = scroll > 0 ? `log (${scroll} lines up)` : 'log';
  return h(
    Box,
    { flexDirection: 'column', width },
    ...panel.map((line, i) =>
      h(Text, { key: `s${i}`, wrap: 'truncate', ...(i === 0 ? { color, bold: true } : {}) }, line),
    ),
    h(Text, { key: 'r1', dimColor: true }, clip(rule(scrolled), width)),
    ...padded.map((line, i) => h(Text, { key: `l${i}`, wrap: 'truncate' }, clip(line, width) || ' ')),
    h(Text, { key: 'r2', dimColor: true }, clip(rule(session.current.phase.name), width)),
    h(Text, { key: 'n', wrap: 'truncate', bold: true }, clip(session.current.notice, width)),
    h(Text, { key: 'k', wrap: 'truncate', dimColor: true }, clip(KEYS_HELP, width)),
  );
}
