/**
 * Which catalog a widget speaks, and loading it.
 *
 * English is built in (the English of a lazy chunk's views comes with the
 * chunk); every other language is a separate chunk of `dist/call-widget.js`,
 * fetched from the script's own origin only when a widget asks for it. A language is picked by its primary subtag (BCP 47,
 * RFC 5646 §2.2.1): `ar-EG` → `ar`; anything without a catalog gets English.
 */
import { en, type Messages } from './messages.ts';

/** Languages with a catalog, by primary subtag. */
export const LOCALES = {
  en: async () => en,
  ar: async () => (await import('./ar.ts')).default,
  es: async () => (await import('./es.ts')).default,
} satisfies Record<string, () => Promise<Partial<Messages>>>;

export type Locale = keyof typeof LOCALES;

/**
 * Right-to-left scripts among the languages we ship (and their neighbours,
 * so a host string override in one of them lays out right): Arabic, Hebrew,
 * Persian, Urdu, Yiddish, Pashto, Sindhi, Dhivehi, Kurdish (Sorani).
 */
const RTL = new Set(['ar', 'he', 'fa', 'ur', 'yi', 'ps', 'sd', 'dv', 'ckb']);

/** The primary subtag of a BCP 47 tag, lower case: `'ar-EG'` → `'ar'`. */
export function primaryLanguage(tag: string): string {
  return tag.trim().split(/[-_]/)[0]!.toLowerCase();
}

/** The shipped locale for `tag`, or English. */
export function localeFor(tag: string): Locale {
  const primary = primaryLanguage(tag);
  return primary in LOCALES ? (primary as Locale) : 'en';
}

/** The writing direction of language `tag`. */
export function directionOf(tag: string): 'ltr' | 'rtl' {
  return RTL.has(primaryLanguage(tag)) ? 'rtl' : 'ltr';
}

/**
 * The value of attribute `name` on `element` or its nearest ancestor that
 * sets it, crossing shadow roots to their hosts (an embed inside another
 * component's shadow DOM inherits the page's `lang` and `dir`); null if none.
 */
export function inheritedAttribute(element: Element, name: string): string | null {
  for (let node: Node | null = element; node; ) {
    if (node instanceof Element && node.getAttribute(name)) return node.getAttribute(name);
    node = node.parentNode ?? (node instanceof ShadowRoot ? node.host : null);
  }
  return null;
}

/**
 * The language an element should speak: its own `lang` or its nearest
 * ancestor's (shadow hosts included), else the browser's first preference,
 * else English.
 */
export const languageOf = (element: Element): string =>
  inheritedAttribute(element, 'lang') || globalThis.navigator?.language || 'en';
