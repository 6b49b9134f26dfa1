// The content script's one sender to the background: the reply's type follows from the kind
// (ContentChannel), and each reply is validated (CONTENT_REPLIES) before it is read.

import browser from 'webextension-polyfill';
import { validatedSender } from '../shared/protocol/channel';
import { CONTENT_REPLIES, type ContentChannel } from '../shared/protocol/content';

export const tellBackground = validatedSender<ContentChannel>((msg) => browser.runtime.sendMessage(msg), CONTENT_REPLIES);
