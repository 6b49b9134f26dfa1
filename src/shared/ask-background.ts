// The one sender from the extension's own pages (popup, options) to the background. The reply's
// type follows from the request's kind (UiChannel); replies come from the background itself.

import browser from 'webextension-polyfill';
import { trustedSender } from './protocol/channel';
import type { UiChannel } from './protocol/ui';

export const askBackground = trustedSender<UiChannel>((msg) => browser.runtime.sendMessage(msg));
