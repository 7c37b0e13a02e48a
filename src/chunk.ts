/**
 * What the widget hands its lazy chunks (src/lobby.ts, src/knocks.ts,
 * src/failure.ts): its own Lit and its strings (each chunk brings the
 * English of its own views as `MESSAGES`, and its styles as `CSS`, which the
 * widget adds to its shadow root as a constructed sheet, which a strict
 * `style-src` allows). A chunk imports nothing
 * at run time: an import of Lit would be an import of the entry script by its
 * bare URL, and a page that embeds `call-widget.js?v=3` would then download
 * and run the whole entry a second time (under `trusted-types lit-html`, one
 * that throws).
 * Types only: nothing here reaches a bundle.
 */
import type { html, nothing } from 'lit';
import type { MessageKey } from './i18n/messages.ts';

export interface ChunkContext {
  html: typeof html;
  nothing: typeof nothing;
  /** A string of the widget's catalog, its `{name}` placeholders filled from `values` (as text). */
  t(key: MessageKey, values?: Record<string, string>): string;
}
