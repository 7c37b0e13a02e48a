/**
 * The host's list of the people knocking at its locked room, each with Admit
 * and Reject. A separate chunk, loaded when the first knock reaches a host:
 * most calls never lock their room. Like the lobby it imports nothing at run
 * time (see {@link ChunkContext}); the names are network text, rendered as
 * text.
 */
import type { TemplateResult } from 'lit';
import type { ChunkContext } from './chunk.ts';
import type { PeerInfo } from './protocol.ts';

/** Tags CSS text so that the build minifies it (minify-literals knows `css`). */
const css = String.raw;

/** English for the knock list (see src/i18n/messages.ts). */
export const MESSAGES = {
  knocks: 'Waiting to join',
  admit: 'Admit',
  reject: 'Reject',
  admitName: 'Admit {name}',
  rejectName: 'Reject {name}',
  admitRefused: 'The call is full: someone has to leave before you can admit anyone.',
};

/** The knock list's styles, added to the widget with the first knock. */
export const CSS = css`
  [part~='knocks'] {
    display: grid;
    gap: 6px;
    margin: 0;
    padding: 0 8px 10px;
    list-style: none;
  }
  [part~='knock'] {
    display: flex;
    flex-wrap: wrap;
    align-items: center;
    gap: 8px;
    padding-block: 6px;
    padding-inline: 12px 6px;
    border-radius: var(--_radius);
    background: var(--_surface);
  }
  .knock-note {
    margin: 0;
    padding-inline: 12px;
  }
  .knock-note:empty {
    display: none;
  }
  .knock-name {
    flex: 1 1 12ch;
    overflow-wrap: anywhere;
  }
  [part~='reject-button'] {
    background: var(--_bg);
  }
  [part~='admit-button'] {
    background: var(--_accent);
    color: #fff;
  }
`;

/** The knock whose Admit or Reject has focus: its peer id and row. */
export interface KnockFocus {
  id: string | undefined;
  row: number;
}

/** Which knock `active` (the focused element) belongs to, if any: record it before an update. */
export function focusedKnock(active: Element): KnockFocus | null {
  const row = active.closest<HTMLElement>('[part~=knock]');
  return row ? { id: row.dataset.peer, row: [...row.parentElement!.children].indexOf(row) } : null;
}

/**
 * After an update, when the knock that had focus (`was`) was admitted,
 * rejected or gave up: Lit reuses rows by position, so the focused button
 * may now act on someone else, or be gone. Focus goes to the Admit of the
 * knock now in that row (the next), else of the last one, else to the lock
 * (in a narrow widget with the secondary controls hidden, to More);
 * blurred first if it is the same button, so that its new name is read out.
 * False when there is nowhere to go (the call is over): the widget decides.
 */
export function refocus(root: ParentNode & { activeElement?: Element | null }, was: KnockFocus): boolean {
  const active = root.activeElement;
  if (active && focusedKnock(active)?.id === was.id) return false;
  const rows = root.querySelectorAll('[part~=knock]');
  // The lock, or in a narrow widget with the secondary controls hidden, the button that shows them.
  const shown = (part: string) => {
    const button = root.querySelector<HTMLElement>(`[part~=${part}]`);
    return button && (button.checkVisibility?.() ?? true) ? button : null;
  };
  const target =
    rows[Math.min(was.row, rows.length - 1)]?.querySelector<HTMLElement>('[part~=admit-button]') ??
    shown('lock-button') ??
    shown('more-button');
  if (!target) return false;
  if (target === active) target.blur();
  target.focus();
  return true;
}

/** The widget, as the knock list sees it (its public host API). */
export interface KnocksHost {
  readonly knocking: readonly PeerInfo[];
  admit(peerId: string): void;
  reject(peerId: string): void;
}

/**
 * The list (`part="knocks"`), one `knock` per person, names shown through
 * `displayName`; `full`: the room refused an admit for want of room, said
 * above the list (`role="status"`) until someone leaves.
 */
export function renderKnocks(
  chunk: ChunkContext,
  host: KnocksHost,
  displayName: (name: string) => string,
  full: boolean,
): TemplateResult {
  const { html, nothing, t } = chunk;
  return html`<p part="knock-note" class="knock-note" role="status">${full ? t('admitRefused') : nothing}</p>
    <ul part="knocks" class="knocks" aria-label=${t('knocks')}>
    ${host.knocking.map((peer) => {
      const name = displayName(peer.name);
      return html`<li part="knock" data-peer=${peer.id}>
        <span class="knock-name">${t('knocking', { name })}</span>
        <button part="button admit-button" aria-label=${t('admitName', { name })} @click=${() => host.admit(peer.id)}>
          ${t('admit')}
        </button>
        <button part="button reject-button" aria-label=${t('rejectName', { name })} @click=${() => host.reject(peer.id)}>
          ${t('reject')}
        </button>
      </li>`;
    })}
  </ul>`;
}
