export { CursorCodec, PageSizeQuery, toInteger, type CursorPage } from './cursor-page';
