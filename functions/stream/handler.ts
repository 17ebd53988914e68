/** Lambda for the table's stream (event source mapping): history entries and events. */
import { publisherFromEnvironment } from '../../shared/events/index.js';
import { ctx, logger } from '../runtime.js';
import { createStreamHandler } from './streamHandler.js';

export const handler = createStreamHandler(ctx, publisherFromEnvironment(), logger);
