/**
 * The few DOM types used by the functions the console tests evaluate in the page. The tests are
 * type-checked without lib "dom" (it retypes Node's globals, such as `crypto`, for src/ too), and
 * a function given to page.evaluate/waitForFunction runs in the browser, so it can use no import:
 * a test file declares the page's globals with these types (`declare const document: PageDocument`),
 * which emits nothing. Types only.
 */
export interface PageElement {
  readonly textContent: string | null
  getAttribute(name: string): string | null
}

export interface PageInput extends PageElement {
  readonly value: string
}

export interface PageDialog extends PageElement {
  readonly open: boolean
}

export interface PageDocument {
  readonly body: PageElement & { readonly innerText: string }
  readonly activeElement: PageElement | null
  querySelector(selectors: string): PageElement | null
  querySelectorAll(selectors: string): ArrayLike<PageElement> & Iterable<PageElement>
}
