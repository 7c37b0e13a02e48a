import { css } from 'lit';

/** The element's shadow styles. Theming goes through `--call-*` custom properties and `::part`. */
export const styles = css`
  :host {
    /* Defaults for dark and light schemes: light-dark() follows color-scheme,
       which the theme attribute pins (CSS Color 5 §7.2). */
    --_bg: var(--call-background, light-dark(#f6f7f9, #101418));
    --_fg: var(--call-foreground, light-dark(#14181c, #f4f6f8));
    --_surface: var(--call-surface, light-dark(#e3e7ec, #1d242b));
    --_accent: var(--call-accent, #2563eb);
    --_danger: var(--call-danger, #c62828);
    --_radius: var(--call-radius, 12px);
    --_control-size: var(--call-control-size, 44px);
    --_focus: var(--call-focus-ring, light-dark(#1a56db, #8ab4ff));
    color-scheme: light dark;
    display: block;
    position: relative;
    container-type: inline-size;
    min-width: 280px;
    color: var(--_fg);
    background: var(--_bg);
    border-radius: var(--_radius);
    overflow: hidden;
    font: var(--call-font, 14px/1.4 system-ui, sans-serif);
  }
  :host([theme='light']) {
    color-scheme: light;
  }
  :host([theme='dark']) {
    color-scheme: dark;
  }
  :host([hidden]) {
    display: none;
  }
  .base {
    display: grid;
    grid-template-rows: minmax(0, 1fr) auto;
    /* With no height from the page the widget is 4:3 of its container's
       width (3:4 when narrow), controls included. A page-given height makes
       both sizes definite, so the ratio gives way (on the host itself it
       would have set the width from that height, CSS Sizing 4 §5.1), and
       the view shrinks so the controls stay in. */
    width: 100%;
    height: 100%;
    aspect-ratio: 4 / 3;
  }
  .view {
    position: relative;
    overflow: hidden;
  }
  .stage {
    position: absolute;
    inset: 0;
    display: grid;
    grid-template-columns: minmax(0, 1fr);
    grid-auto-rows: minmax(0, 1fr);
    gap: 4px;
  }
  .columns-2 {
    grid-template-columns: repeat(2, minmax(0, 1fr));
  }
  /* Three columns as six half-columns, so that the last row of five people
     (two tiles) can start half a tile in and sit at the middle. */
  .columns-3 {
    grid-template-columns: repeat(6, minmax(0, 1fr));
  }
  .columns-3 > * {
    grid-column: span 2;
  }
  .columns-3.odd > :nth-last-child(2 of :not([hidden])) {
    grid-column: 2 / span 2;
  }
  /* An odd last tile of two columns (three people) sits at the middle of its row. */
  .columns-2.odd > :nth-last-child(1 of :not([hidden])) {
    grid-column: span 2;
    justify-self: center;
    width: 50%;
  }
  .tile {
    position: relative;
    min-height: 0;
    background: var(--_surface);
    display: grid;
    place-items: center;
  }
  video {
    display: block;
    width: 100%;
    height: 100%;
    min-height: 0;
    object-fit: cover;
    background: var(--_surface);
  }
  .tile .label {
    position: absolute;
    inset-inline-start: 8px;
    bottom: 8px;
    padding: 2px 8px;
    border-radius: 999px;
    color: #fff;
    background: rgb(0 0 0 / 60%);
    max-width: calc(100% - 16px);
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .tile .camera-off {
    position: absolute;
    inset: 0;
    display: grid;
    place-items: center;
    background: var(--_surface);
  }
  .placeholder {
    display: grid;
    place-items: center;
    /* Rows at the middle (not spread over the tile), and scrolled when the
       view is too low for them, clear of the state badge. */
    align-content: safe center;
    overflow: auto;
    gap: 8px;
    padding: 48px 16px;
    text-align: center;
  }
  .tile button {
    background: var(--_bg);
  }
  .local {
    position: absolute;
    inset-inline-end: 12px;
    bottom: 12px;
    width: min(30%, 200px);
    aspect-ratio: 4 / 3;
    border-radius: calc(var(--_radius) / 2);
    overflow: hidden;
    box-shadow: 0 2px 12px rgb(0 0 0 / 40%);
  }
  [part~='local-video'] {
    transform: scaleX(-1);
  }
  .tile[hidden] {
    display: none;
  }
  .top {
    position: absolute;
    top: 12px;
    inset-inline-start: 12px;
    display: flex;
    gap: 6px;
  }
  [part~='status-badge'],
  [part~='lock-badge'],
  [part~='call-timer'] {
    padding: 4px 10px;
    border-radius: 999px;
    color: #fff;
    background: rgb(0 0 0 / 60%);
  }
  .brand {
    position: absolute;
    top: 12px;
    inset-inline-end: 12px;
    max-width: 40%;
  }
  :host([state='connected']) [part~='status-badge'] {
    background: #166534;
  }
  :host([state='reconnecting']) [part~='status-badge'],
  :host([state='failed']) [part~='status-badge'] {
    background: #b91c1c;
  }
  [part~='call-timer'] {
    font-variant-numeric: tabular-nums;
  }
  [part~='avatar'] {
    display: grid;
    place-items: center;
    width: min(96px, 40%);
    aspect-ratio: 1;
    border-radius: 50%;
    color: var(--_bg);
    background: var(--_fg);
    font-size: 1.6em;
    font-weight: 600;
  }
  .local [part~='avatar'] {
    width: 40%;
    font-size: 1em;
  }
  /* The secondary controls are in the row; a narrow widget shows them on
     demand (the More button), so that the call keeps most of its height. */
  .more {
    display: contents;
  }
  [part~='more-button'] {
    display: none;
  }
  [part~='controls'] {
    display: flex;
    flex-wrap: wrap;
    justify-content: center;
    gap: 8px;
    padding: 10px 8px;
  }
  button {
    min-width: var(--_control-size);
    min-height: var(--_control-size);
    padding: 0 14px;
    border: 0;
    border-radius: 999px;
    color: var(--_fg);
    background: var(--_surface);
    font: inherit;
    cursor: pointer;
  }
  button:focus-visible,
  input:focus-visible {
    outline: 3px solid var(--_focus);
    outline-offset: 2px;
  }
  button[aria-pressed='true'] {
    background: var(--_fg);
    color: var(--_bg);
  }
  [part~='join-button'],
  [part~='accept-button'] {
    background: var(--_accent);
    color: #fff;
  }
  [part~='hangup-button'],
  [part~='decline-button'] {
    background: var(--_danger);
    color: #fff;
  }
  .error {
    max-width: 36ch;
  }
  .notice {
    position: absolute;
    top: 48px;
    inset-inline: 12px;
    display: grid;
    justify-items: center;
    gap: 8px;
    padding: 8px;
    border-radius: calc(var(--_radius) / 2);
    background: var(--_bg);
    text-align: center;
  }
  .ring {
    font-size: 1.25em;
    text-align: center;
  }
  .invite {
    width: min(100%, 36ch);
    font: inherit;
  }
  .sr-only {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip: rect(0 0 0 0);
    white-space: nowrap;
  }
  /* The only motion: colour fades, and only for those who have not asked for less. */
  @media (prefers-reduced-motion: no-preference) {
    button {
      transition:
        background-color 0.15s,
        color 0.15s;
    }
  }
  @container (max-width: 420px) {
    .base {
      aspect-ratio: 3 / 4;
    }
    .local {
      width: 32%;
      inset-inline-end: 8px;
    }
    .columns-3 {
      grid-template-columns: repeat(2, minmax(0, 1fr));
    }
    .columns-3 > *,
    .columns-3.odd > :nth-last-child(2 of :not([hidden])) {
      grid-column: auto;
    }
    .columns-3.odd > :nth-last-child(1 of :not([hidden])) {
      grid-column: span 2;
      justify-self: center;
      width: 50%;
    }
    button {
      padding: 0 10px;
    }
    [part~='more-button'] {
      display: block;
    }
    /* Shown while focus is in it, so that a control focused in a wider
       widget (then the page zoomed, the phone turned) does not drop focus. */
    .more:not(.open, :focus-within) {
      display: none;
    }
  }
`;
