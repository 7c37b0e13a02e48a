/**
 * What the widget hands its lazy chunks (src/lobby.ts, src/knocks.ts,
 * src/failure.ts): its own Lit, a way to add their CSS and its strings
 * (each chunk brings the English of its own views). A chunk imports nothing
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
  /** Add CSS text to the widget's shadow root (once; a constructed sheet, which a strict `style-src` allows). */
  adopt(cssText: string): void;
  /** A string of the widget's catalog, its `{name}` placeholders filled from `values` (as text). */
  t(key: MessageKey, values?: Record<string, string>): string;
}
